#!/usr/bin/env bash
# Builds examples/java-consumer with Maven, cached under ~/.cache/kmaint by the hash of its sources, and
# prints the jar's path (java -jar <it>; its dependencies sit in lib/ beside it).
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${KMAINT_CACHE:-$HOME/.cache/kmaint}
src=examples/java-consumer
hash=$(find "$src/pom.xml" "$src/src" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
out="$CACHE/java-consumer-$hash"
if [[ ! -f $out/.complete ]]; then
  work=$(mktemp -d "$CACHE/java-consumer-build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  cp -r "$src/pom.xml" "$src/src" "$work/"
  mvn -q -B -f "$work/pom.xml" package >&2
  mkdir -p "$work/out"
  cp "$work/target/java-consumer.jar" "$work/out/"
  cp -r "$work/target/lib" "$work/out/lib"
  date -u +%FT%TZ >"$work/out/.complete"
  rm -rf "$out"
  mv "$work/out" "$out"
fi
echo "$out/java-consumer.jar"
