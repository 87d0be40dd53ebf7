#!/usr/bin/env bash
# Prepares a folder for a real node (containerd + the kubelet, started by real-node.ts): containerd's
# private config (own root, state and socket, next to nothing of the machine's), a CNI bridge, and the
# pause image as an OCI archive. The pause image is built here from a static C program, as no registry
# is reachable; it is cached in ~/.cache/kmaint/node by the hash of its source.
# Usage: real-node.sh <dir> <bridge> <subnet>   (podman's env from build-images.sh must be in the
# environment; the bridge and subnet are pod-network.ts's, whose gateway address the host already has)
set -euo pipefail

DIR=$1
BRIDGE=$2
SUBNET=$3
CACHE=${KMAINT_CACHE:-$HOME/.cache/kmaint}/node
mkdir -p "$DIR/cni" "$CACHE"

PAUSE_C='#include <signal.h>
#include <unistd.h>
static void done(int s) { (void)s; _exit(0); }
int main(void) { signal(SIGTERM, done); signal(SIGINT, done); for (;;) pause(); }'
tag=$(printf '%s' "$PAUSE_C" | sha256sum | cut -c1-12)
PAUSE_IMAGE="localhost/kmaint/pause:$tag"
PAUSE_TAR="$CACHE/pause-$tag.tar"
if [[ ! -f "$PAUSE_TAR" ]]; then
  work=$(mktemp -d)
  printf '%s\n' "$PAUSE_C" >"$work/pause.c"
  gcc -static -O2 -o "$work/pause" "$work/pause.c"
  printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$work/Containerfile"
  podman build --quiet --tag "$PAUSE_IMAGE" "$work" >/dev/null
  podman save --format oci-archive --output "$PAUSE_TAR.tmp" "$PAUSE_IMAGE"
  mv "$PAUSE_TAR.tmp" "$PAUSE_TAR"
  rm -rf "$work"
fi

# The sandbox forbids raising oom_score_adj and has no AppArmor; the CNI plugins are Debian's.
containerd config default | sed \
  -e "s|^root = .*|root = \"$DIR/containerd-root\"|" \
  -e "s|^state = .*|state = \"$DIR/containerd-state\"|" \
  -e "s|^  address = \"/run/containerd/containerd.sock\"|  address = \"$DIR/containerd.sock\"|" \
  -e "s|disable_apparmor = false|disable_apparmor = true|" \
  -e "s|restrict_oom_score_adj = false|restrict_oom_score_adj = true|" \
  -e "s|sandbox_image = .*|sandbox_image = \"$PAUSE_IMAGE\"|" \
  -e "s|bin_dir = \"/opt/cni/bin\"|bin_dir = \"/usr/lib/cni\"|" \
  -e "s|conf_dir = \"/etc/cni/net.d\"|conf_dir = \"$DIR/cni\"|" \
  >"$DIR/containerd.toml"
grep -q "$DIR/containerd.sock" "$DIR/containerd.toml" || { echo "containerd config: socket not replaced" >&2; exit 1; }

cat >"$DIR/cni/10-kmaint.conflist" <<JSON
{"cniVersion":"1.0.0","name":"kmaint-node","plugins":[{"type":"bridge","bridge":"$BRIDGE","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","dataDir":"$DIR/cni-ipam","ranges":[[{"subnet":"$SUBNET"}]],"routes":[{"dst":"0.0.0.0/0"}]}},{"type":"portmap","capabilities":{"portMappings":true}},{"type":"loopback"}]}
JSON
echo "pause=$PAUSE_TAR"
