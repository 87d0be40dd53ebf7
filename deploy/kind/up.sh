#!/usr/bin/env bash
# Try kmaint end to end on a laptop: a kind cluster, the two images built and loaded into it, Kafka and
# etcd, the chart with the example consumer, then one maintenance window opened, drained and closed.
# Needs docker (a running engine), kind, kubectl and helm on PATH. Run from anywhere; remove it all with
#   kind delete cluster --name kmaint
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLUSTER=${KMAINT_KIND_CLUSTER:-kmaint}
NS=${KMAINT_NAMESPACE:-kmaint}
CTX="kind-$CLUSTER"

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "up.sh: $tool is not on PATH" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "up.sh: no Docker engine answers (docker info failed)" >&2; exit 1; }

step() { printf '\n== %s\n' "$*"; }
k() { kubectl --context "$CTX" -n "$NS" "$@"; }

step "kind cluster $CLUSTER"
if ! kind get clusters | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --config "$ROOT/deploy/kind/cluster.yaml"
fi

step "images kmaint/service:dev and kmaint/operator:dev"
docker build --target service -t kmaint/service:dev "$ROOT"
docker build --target operator -t kmaint/operator:dev "$ROOT"
kind load docker-image --name "$CLUSTER" kmaint/service:dev kmaint/operator:dev

step "Kafka and etcd in namespace $NS"
kubectl --context "$CTX" create namespace "$NS" --dry-run=client -o yaml | kubectl --context "$CTX" apply -f -
k apply -f "$ROOT/deploy/kind/backing-services.yaml"
k rollout status deployment/kafka --timeout=5m
k rollout status deployment/etcd --timeout=5m

step "helm chart (operator, CRD, example consumer)"
helm --kube-context "$CTX" upgrade --install kmaint "$ROOT/charts/kmaint" --namespace "$NS" \
  -f "$ROOT/deploy/kind/values.yaml" --wait --timeout 5m

step "some messages through the consumer's API"
k port-forward service/kafka-service 18083:8083 >/dev/null 2>&1 &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do curl -fsS http://127.0.0.1:18083/livez >/dev/null 2>&1 && break; sleep 0.2; done
for i in $(seq 1 20); do
  curl -fsS -X POST http://127.0.0.1:18083/messages/send -H 'Content-Type: application/json' \
    -d "{\"topic\": \"test-topic\", \"message\": \"hello $i\", \"key\": \"k$i\"}" >/dev/null
done
curl -fsS http://127.0.0.1:18083/messages/stats; echo

step "open a maintenance window and wait until every consumer has drained"
k apply -f "$ROOT/deploy/examples/window-immediate.yaml"
k wait --for=condition=Drained maintenancewindow/kafka-upgrade-now --timeout=5m
k get maintenancewindows
k get pods -l app=kafka-service -o wide
echo "Endpoints of the consumer Service (empty: every pod is out of service):"
k get endpointslices -l kubernetes.io/service-name=kafka-service -o wide
kubectl --context "$CTX" -n "$NS" exec deploy/etcd -- etcdctl get --prefix /maintenance/kafka-service

step "close the window: the consumers rejoin from their committed offsets"
k delete -f "$ROOT/deploy/examples/window-immediate.yaml" --wait
k rollout status deployment/kafka-service --timeout=5m
k wait --for=condition=Ready pod -l app=kafka-service --timeout=5m
echo "Done. Try a node drain next (the PDB allows one consumer at a time):"
echo "  kubectl --context $CTX drain $CLUSTER-worker --ignore-daemonsets --delete-emptydir-data"
