#!/usr/bin/env bash
# Builds upstream promtool from its Go module into ~/.cache/kmaint/promtool-v<module version>/, once,
# and prints its path. Debian's promtool is built without Kubernetes service discovery, so it rejects
# kubernetes_sd_configs, which deploy/prometheus/scrape-config.yaml uses; upstream's accepts it.
set -euo pipefail

PROMETHEUS_MODULE_VERSION=${PROMETHEUS_MODULE_VERSION:-0.316.0}
CACHE=${KMAINT_CACHE:-$HOME/.cache/kmaint}
OUT="$CACHE/promtool-v$PROMETHEUS_MODULE_VERSION"
BIN="$OUT/promtool"

if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
mkdir -p "$OUT"
GOBIN="$OUT" go install -trimpath -ldflags "-s -w" \
  "github.com/prometheus/prometheus/cmd/promtool@v$PROMETHEUS_MODULE_VERSION" >&2
echo "$BIN"
