#!/usr/bin/env bash
# Builds the docker compose CLI from its Go module into ~/.cache/kmaint/compose-v<version>/, once, and
# prints the binary's path. `docker-compose config` validates docker-compose.yml without any engine.
# `go install github.com/docker/compose/v2/cmd@...` refuses the module because its go.mod has `exclude`
# lines, so a throwaway module requires it and repeats those two excludes (without them the build
# resolves go-spew/go-difflib pseudo-versions that do not compile against its kubernetes deps).
set -euo pipefail

COMPOSE_VERSION=${COMPOSE_VERSION:-2.40.3}
CACHE=${KMAINT_CACHE:-$HOME/.cache/kmaint}
OUT="$CACHE/compose-v$COMPOSE_VERSION"
BIN="$OUT/docker-compose"

if [[ -x "$BIN" && -f "$OUT/.complete" ]]; then echo "$BIN"; exit 0; fi
mkdir -p "$OUT" "$CACHE/src"
dir="$CACHE/src/compose-$COMPOSE_VERSION"
mkdir -p "$dir"
cat >"$dir/go.mod" <<GOMOD
module kmaint.local/composebuild

go 1.24.9

require github.com/docker/compose/v2 v$COMPOSE_VERSION

exclude (
	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc
	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2
)
GOMOD
cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/docker/compose/v2/cmd"
GO
(
  cd "$dir"
  GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
  GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=v$COMPOSE_VERSION" \
    -o "$BIN.tmp" github.com/docker/compose/v2/cmd
)
mv "$BIN.tmp" "$BIN"
touch "$OUT/.complete"
echo "$BIN"
