#!/usr/bin/env bash
# KEDA's CRDs, taken from KEDA's own Go module (github.com/kedacore/keda/v2, through the Go module proxy)
# into the shared cache, for the tests that pause ScaledObjects against the real CRD. Prints the path of
# the ScaledObject CRD. Idempotent: a module already downloaded is not fetched again.
set -euo pipefail
KEDA_VERSION=${KEDA_VERSION:-v2.21.0}
CACHE=${KMAINT_CACHE:-$HOME/.cache/kmaint}
export GOMODCACHE="$CACHE/gomod" GOFLAGS=-modcacherw
dir=$(cd /tmp && go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
crd="$dir/config/crd/bases/keda.sh_scaledobjects.yaml"
[ -f "$crd" ] || { echo "no ScaledObject CRD at $crd" >&2; exit 1; }
echo "$crd"
