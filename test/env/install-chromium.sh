#!/usr/bin/env bash
# Installs Debian's chromium for the status page's browser test when it is missing (as root), and
# prints its path. The test drives it headless through playwright-core; nothing is downloaded by npm.
set -euo pipefail
if ! command -v chromium >/dev/null; then
  if [[ $(id -u) != 0 ]]; then
    echo "install-chromium.sh: chromium is missing; run as root: apt-get install -y chromium" >&2
    exit 1
  fi
  echo "install-chromium.sh: apt-get install chromium" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
fi
command -v chromium
