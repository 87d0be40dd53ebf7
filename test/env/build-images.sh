#!/usr/bin/env bash
# Builds kmaint's images from the repository's Dockerfile with podman, without any image registry:
# a Debian bookworm base made by mmdebstrap, a Node 24 base on it (the `node` binary of the npm `node`
# package the repo already depends on, npm from `npm pack`, a `node` user with uid 1000, this machine's
# CA bundle), then every runtime target of the Dockerfile, and the Java example's image on a Debian
# JRE base (examples/java-consumer/Containerfile with the jar build-java-example.sh builds). With
# --compose also the images docker-compose.yml names but which cannot be pulled here, under the same
# names: Kafka from the Maven jars test/env fetches on that JRE base, and etcd from the binary test/env
# builds.
#
# Everything is cached in podman's store under ~/.cache/kmaint/podman: each image is tagged with a hash
# of what goes into it and skipped when that tag exists. Needs root (rootful podman; apt-get when the
# Debian packages are missing). Prints one `name=image` line per image, and `env=<file>`, a file of
# the variables (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF) that make plain `podman` and `docker`
# (podman-docker) use this store and its settings.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${KMAINT_CACHE:-$HOME/.cache/kmaint}
NPM_VERSION=${NPM_VERSION:-11.21.2}
KAFKA_VERSION=${KMAINT_KAFKA_VERSION:-4.1.1}
ETCD_VERSION=${ETCD_VERSION:-3.6.4}
SUITE=bookworm
compose=false
[[ ${1:-} == --compose ]] && compose=true

log() { echo "build-images.sh: $*" >&2; }
timed() {
  local start=$SECONDS
  "$@"
  log "$(printf '%s ' "$@")took $((SECONDS - start)) s"
}

need=()
for pkg in podman runc mmdebstrap netavark aardvark-dns iptables podman-docker containerd containernetworking-plugins iproute2 gcc libc6-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if ((${#need[@]})); then
  [[ $(id -u) == 0 ]] || { log "missing Debian packages ${need[*]}; run as root: apt-get install -y ${need[*]}"; exit 1; }
  log "apt-get install ${need[*]}"
  apt-get update -qq >&2
  # containerd's package would start its system service; the test environment runs its own.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
[[ $(id -u) == 0 ]] || { log "rootful podman: run as root"; exit 1; }

# A private configuration, so neither the machine's podman settings nor its default store are touched.
# default_ulimits = []: no raising of rlimits, which a sandboxed kernel may refuse; runc and cgroupfs:
# crun refuses hybrid cgroup setups and there may be no systemd; netavark + aardvark-dns give compose
# networks DNS for service names.
conf="$CACHE/podman"
mkdir -p "$conf/storage" "$conf/tmp"
cat >"$conf/containers.conf" <<CONF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
image_copy_tmp_dir = "$conf/tmp"
[network]
network_backend = "netavark"
CONF
cat >"$conf/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$conf/storage"
runroot = "/run/kmaint-podman"
CONF
cat >"$conf/env" <<ENV
CONTAINERS_CONF=$conf/containers.conf
CONTAINERS_STORAGE_CONF=$conf/storage.conf
TMPDIR=$conf/tmp
BUILDAH_FORMAT=docker
ENV
set -a
# shellcheck source=/dev/null
source "$conf/env"
set +a

hash_of() { sha256sum | cut -c1-16; }
exists() { podman image exists "$1"; }
work=$(mktemp -d "$conf/tmp/build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- Debian bases ---------------------------------------------------------------------------------
debian_base() {
  local name=$1 include=$2
  local tag
  tag="localhost/kmaint/$name:$SUITE-$(echo "mmdebstrap --variant=apt --include=$include $SUITE" | hash_of)"
  if ! exists "$tag"; then
    log "mmdebstrap $name ($include)"
    # shellcheck disable=SC2016 # $1 is the hook's argument (the new root), expanded by mmdebstrap
    timed mmdebstrap --quiet --variant=apt --include="$include" --aptopt='APT::Install-Recommends "false"' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
      "$SUITE" "$work/$name.tar" >&2
    podman import --quiet "$work/$name.tar" "$tag" >/dev/null
    rm -f "$work/$name.tar"
  fi
  echo "$tag"
}
debian=$(debian_base debian ca-certificates)
echo "debian=$debian"

# --- Node 24 base ---------------------------------------------------------------------------------
node_bin=node_modules/node/bin/node
[[ -x $node_bin ]] || { log "run npm ci first (the node binary comes from the npm \`node\` package)"; exit 1; }
node_version=$("$node_bin" -p 'process.versions.node')
ca=$(npm config get cafile 2>/dev/null || true)
[[ -f $ca ]] || ca=/etc/ssl/certs/ca-certificates.crt
node_ctx="$work/node"
mkdir -p "$node_ctx"
cat >"$node_ctx/Containerfile" <<FILE
FROM $debian
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca-certificates.crt /usr/local/share/kmaint/ca-certificates.crt
# The uid/gid 1000 \`node\` user the official Node images have, which the Dockerfile's USER names.
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
  && echo 'node:x:1000:1000::/home/node:/bin/sh' >>/etc/passwd \\
  && echo 'node:x:1000:' >>/etc/group \\
  && mkdir -p /home/node && chown 1000:1000 /home/node
# npm inside a build reaches the registry through the same CAs as on this machine.
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/kmaint/ca-certificates.crt NODE_VERSION=$node_version
CMD ["node"]
FILE
node_tag="localhost/kmaint/node:$node_version-$({
  cat "$node_ctx/Containerfile"
  sha256sum "$node_bin" "$ca"
  echo "npm@$NPM_VERSION"
} | hash_of)"
if ! exists "$node_tag"; then
  log "Node $node_version base with npm $NPM_VERSION"
  cp "$node_bin" "$node_ctx/node"
  cp "$ca" "$node_ctx/ca-certificates.crt"
  (cd "$node_ctx" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$node_ctx/npm"
  tar -xzf "$node_ctx/npm-$NPM_VERSION.tgz" -C "$node_ctx/npm" --strip-components=1
  timed podman build --quiet --network host -t "$node_tag" "$node_ctx" >/dev/null
fi
echo "node=$node_tag"

# --- the Dockerfile's runtime targets -------------------------------------------------------------
# One hash for all of them: they share the build stage. What goes in is the Dockerfile, .dockerignore,
# the build context (the workspaces' manifests and sources; .dockerignore keeps out tests and docs)
# and the base.
targets=$(sed -n 's/^FROM .* AS \([a-z-]*\)$/\1/p' Dockerfile | grep -v -e '^build$' -e '-deps$')
# Docker's image format, not OCI: OCI images have no HEALTHCHECK.
context_hash=$({
  echo "$node_tag docker-format"
  find Dockerfile .dockerignore package.json package-lock.json tsconfig.base.json \
    common consumer service operator agent examples/orders-ledger \
    \( -name node_modules -o -name dist -o -name test -o -name coverage \) -prune -o \
    -type f ! -name '*.md' ! -name '*.tsbuildinfo' -print0 | sort -z | xargs -0 sha256sum
} | hash_of)
for target in $targets; do
  tag="localhost/kmaint/$target:$context_hash"
  if ! exists "$tag"; then
    log "Dockerfile target $target"
    timed podman build --quiet --format docker --network host --build-arg "NODE_IMAGE=$node_tag" \
      --target "$target" -t "$tag" . >/dev/null
  fi
  echo "$target=$tag"
done

# --- the Java example (examples/java-consumer) ------------------------------------------------------
# Its own Containerfile, with the jar build-java-example.sh builds, on a Debian JRE base (the Kafka
# image's as well). Tagged by the base, the Containerfile and the jars.
jre=$(debian_base jre ca-certificates,openjdk-17-jre-headless)
echo "jre=$jre"
jar=$(bash test/env/build-java-example.sh)
java_ctx="$work/java-consumer"
mkdir -p "$java_ctx/target"
cp examples/java-consumer/Containerfile "$java_ctx/"
cp "$jar" "$java_ctx/target/"
cp -r "$(dirname "$jar")/lib" "$java_ctx/target/lib"
java_hash=$({
  echo "$jre docker-format"
  find "$java_ctx" -type f -print0 | sort -z | xargs -0 sha256sum | sed "s|$java_ctx||"
} | hash_of)
java_tag="localhost/kmaint/java-consumer:$java_hash"
if ! exists "$java_tag"; then
  log "Java example image"
  timed podman build --quiet --format docker --network host --build-arg "JRE_IMAGE=$jre" \
    -f "$java_ctx/Containerfile" -t "$java_tag" "$java_ctx" >/dev/null
fi
echo "java-consumer=$java_tag"

$compose || { echo "env=$conf/env"; exit 0; }

# --- what docker-compose.yml pulls, built here under the same names --------------------------------
# The Dockerfile's default base, so `docker compose build` builds it unchanged.
podman tag "$node_tag" "docker.io/library/node:$node_version-bookworm-slim"
podman tag "localhost/kmaint/service:$context_hash" localhost/kmaint/service:dev

libs=$(node_modules/.bin/node test/env/fetch-kafka.ts)
kafka_ctx="$work/kafka"
mkdir -p "$kafka_ctx"
cp -r test/env/images/kafka/. "$kafka_ctx/"
cat >"$kafka_ctx/Containerfile" <<FILE
FROM $jre
COPY libs /opt/kafka/libs
COPY bin /opt/kafka/bin
COPY config /opt/kafka/config
RUN echo 'appuser:x:1000:1000::/home/appuser:/bin/sh' >>/etc/passwd && echo 'appuser:x:1000:' >>/etc/group \\
  && mkdir -p /home/appuser /var/lib/kafka/data && chown 1000:1000 /home/appuser /var/lib/kafka/data
ENV PATH=/opt/kafka/bin:\$PATH
USER 1000:1000
EXPOSE 9092
ENTRYPOINT ["/opt/kafka/bin/run"]
FILE
kafka_tag="docker.io/apache/kafka:$KAFKA_VERSION"
kafka_hash=$({
  echo "$jre"
  find "$kafka_ctx" -type f -print0 | sort -z | xargs -0 sha256sum | sed "s|$kafka_ctx||"
  ls "$libs"
  echo log4j-slf4j-impl
} | hash_of)
if ! exists "localhost/kmaint/kafka:$kafka_hash"; then
  log "Kafka $KAFKA_VERSION image"
  cp -r "$libs" "$kafka_ctx/libs"
  # The broker's jars log through SLF4J 1.7 without a binding; the distribution's log4j2 binding, so
  # `docker compose logs kafka` shows the broker's log.
  log4j=$(find "$libs" -name 'log4j-core-*.jar' -printf '%f\n' | sed 's/^log4j-core-\(.*\)\.jar$/\1/')
  mvn -q dependency:get "-Dartifact=org.apache.logging.log4j:log4j-slf4j-impl:$log4j" -Dtransitive=false >&2
  cp "$HOME/.m2/repository/org/apache/logging/log4j/log4j-slf4j-impl/$log4j/log4j-slf4j-impl-$log4j.jar" "$kafka_ctx/libs/"
  timed podman build --quiet --format docker --network host -t "localhost/kmaint/kafka:$kafka_hash" "$kafka_ctx" >/dev/null
fi
podman tag "localhost/kmaint/kafka:$kafka_hash" "$kafka_tag"
echo "kafka=$kafka_tag"

tools=$(bash test/env/build-go-tools.sh)
etcd_tag=$(sed -n 's|^ *image: \(quay.io/coreos/etcd:.*\)$|\1|p' docker-compose.yml)
etcd_ctx="$work/etcd"
mkdir -p "$etcd_ctx"
cp "$tools/etcd" "$(command -v etcdctl)" "$etcd_ctx/"
cat >"$etcd_ctx/Containerfile" <<FILE
FROM $debian
COPY etcd etcdctl /usr/local/bin/
EXPOSE 2379 2380
# CMD, not ENTRYPOINT, as in the etcd project's image: compose's \`command:\` names the binary itself.
CMD ["/usr/local/bin/etcd"]
FILE
etcd_hash=$({
  cat "$etcd_ctx/Containerfile"
  sha256sum "$etcd_ctx/etcd" "$etcd_ctx/etcdctl" | cut -c1-64
} | hash_of)
if ! exists "localhost/kmaint/etcd:$etcd_hash"; then
  log "etcd $ETCD_VERSION image"
  timed podman build --quiet --network host -t "localhost/kmaint/etcd:$etcd_hash" "$etcd_ctx" >/dev/null
fi
podman tag "localhost/kmaint/etcd:$etcd_hash" "$etcd_tag"
echo "etcd=$etcd_tag"
echo "env=$conf/env"
