#!/usr/bin/env bash
# Installs everything the test environment runs, once: Debian packages when missing (as root), the Kafka
# jars and the Go-built Kubernetes/etcd/helm tools, cached under ~/.cache/kmaint. Idempotent and
# serialised with a lock, so .ci/run and the vitest global setup can both call it. Prints the tools dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${KMAINT_CACHE:-$HOME/.cache/kmaint}
mkdir -p "$CACHE"
exec 9>"$CACHE/install.lock"
flock 9

need=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v etcdctl >/dev/null || need+=(etcd-client)
command -v openssl >/dev/null || need+=(openssl)
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need+=(maven)
if ((${#need[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "install.sh: missing Debian packages ${need[*]}; run as root: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "install.sh: apt-get install ${need[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
command -v go >/dev/null || { echo "install.sh: Go (>= 1.24) is needed to build the Kubernetes tools" >&2; exit 1; }

# Each step's duration goes to stderr, so a cold run's log says where its time went.
timed() {
  local start=$SECONDS
  "$@"
  echo "install.sh: ${2:-$1} took $((SECONDS - start)) s" >&2
}

node_bin=node_modules/.bin/node
[[ -x $node_bin ]] || { echo "install.sh: run npm ci first (Node 24 comes from node_modules)" >&2; exit 1; }
timed "$node_bin" test/env/fetch-kafka.ts >&2
# The Java consumer example's jar, which build-images.sh puts into the java-consumer image.
timed bash test/env/build-java-example.sh >&2
timed bash test/env/build-go-tools.sh
# With --test-tools (.ci/run), also the packaging tests' tools: the compose CLI and upstream promtool built
# from their Go modules, hadolint and shellcheck, Debian's chromium for the status page test, KEDA's
# CRDs for the autoscaler test, and podman with kmaint's images built from the Dockerfile (plus the
# Kafka and etcd images docker-compose.yml names). The tests would fetch them on first use, but inside
# a test timeout; .ci/run gets them first. `npm run stack` needs none of them.
[[ ${1:-} == --test-tools ]] || exit 0
timed bash test/env/build-compose.sh >&2
timed bash test/env/build-promtool.sh >&2
timed bash test/env/install-linters.sh >&2
timed bash test/env/install-chromium.sh >/dev/null
timed bash test/env/fetch-keda.sh >/dev/null
timed bash test/env/build-images.sh --compose >/dev/null
