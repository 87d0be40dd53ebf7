#!/usr/bin/env bash
# Builds the Kubernetes control plane, kubectl, the kubelet, etcd and helm from their Go modules into
# ~/.cache/kmaint/bin-<versions>, once; later runs find the stamp and return at once. A binary already
# in that folder is kept, so a tool added later is built alone into an existing cache.
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces the staging modules by path), so a
# throwaway module requires it and maps every staging module to its published version.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.34.4}
ETCD_VERSION=${ETCD_VERSION:-3.6.4}
HELM_VERSION=${HELM_VERSION:-3.19.5}
CACHE=${KMAINT_CACHE:-$HOME/.cache/kmaint}
OUT="$CACHE/bin-k8s$K8S_VERSION-etcd$ETCD_VERSION-helm$HELM_VERSION"
STAGING=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
  cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
  cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
  kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
  mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller)

K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet)

if [[ -f "$OUT/.complete" && -x "$OUT/kubelet" ]]; then echo "$OUT"; exit 0; fi
mkdir -p "$OUT" "$CACHE/src"
staging_minor="v0.${K8S_VERSION#1.}"

build_k8s() {
  local dir="$CACHE/src/k8s-$K8S_VERSION"
  mkdir -p "$dir"
  {
    echo "module kmaint.local/k8sbuild"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    echo "replace ("
    for m in "${STAGING[@]}"; do echo "	k8s.io/$m => k8s.io/$m $staging_minor"; done
    echo ")"
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
  local minor=${K8S_VERSION#1.}; minor=${minor%%.*}
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
  (cd "$dir" && go mod tidy -e >/dev/null 2>&1 || true
   cd "$dir" && GOFLAGS=-mod=mod go get k8s.io/kubernetes@v$K8S_VERSION >/dev/null
   for cmd in "${K8S_CMDS[@]}"; do
     [[ -x "$OUT/$cmd" ]] && continue
     GOFLAGS=-mod=mod go build -trimpath -ldflags "$ld" -o "$OUT/$cmd" "k8s.io/kubernetes/cmd/$cmd"
   done)
}

build_etcd() {
  local dir="$CACHE/src/etcd-$ETCD_VERSION"
  mkdir -p "$dir"
  printf 'module kmaint.local/etcdbuild\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" >"$dir/go.mod"
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >"$dir/main.go"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy >/dev/null && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" .)
}

build_helm() {
  GOBIN="$OUT" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
}

build_k8s
[[ -x "$OUT/etcd" ]] || build_etcd
[[ -x "$OUT/helm" ]] || build_helm
touch "$OUT/.complete"
echo "$OUT"
