#!/usr/bin/env bash
# Copies the files the chart renders from elsewhere in the repository into charts/kmaint/files/: the
# CRD (crds/) and the operator's permissions (operator/rbac/role.yaml). They are real copies, not links,
# because git-based installers (Argo CD, Flux, helm-git) drop symlinks; the chart tests fail while a
# copy differs from its source. Run after changing either source: `npm run chart:sync`.
set -euo pipefail
cd "$(dirname "$0")/.."
files=charts/kmaint/files
rm -rf "$files/crds" "$files/operator-rbac"
mkdir -p "$files/crds" "$files/operator-rbac"
cp crds/*.yaml "$files/crds/"
cp operator/rbac/role.yaml "$files/operator-rbac/role.yaml"
