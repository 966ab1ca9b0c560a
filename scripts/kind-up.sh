#!/usr/bin/env bash
# Create (or reuse) a kind cluster for tests/integration and write its kubeconfig.
# Needs kind and Docker with registry access; this is what the GitHub workflow and users run.
set -euo pipefail

CLUSTER_NAME="${CLUSTER_NAME:-tf-serving}"
# Oldest supported Kubernetes by default; override to test another (e.g. v1.33.1).
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.29.14}"
KUBECONFIG="${KUBECONFIG:-$HOME/.kube/config}"
export KUBECONFIG

for tool in kind docker; do
  command -v "$tool" >/dev/null || { echo "kind-up: $tool is not installed; see https://kind.sigs.k8s.io/docs/user/quick-start/" >&2; exit 1; }
done

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  echo "kind-up: reusing cluster $CLUSTER_NAME"
else
  echo "kind-up: creating cluster $CLUSTER_NAME from $KIND_NODE_IMAGE (waits up to 5 minutes for the node)"
  kind create cluster --name "$CLUSTER_NAME" --image "$KIND_NODE_IMAGE" --wait 300s
fi
kind export kubeconfig --name "$CLUSTER_NAME"
# The vendored CRDs (ServiceMonitor, PrometheusRule, ScaledObject, VPA, Gateway routes): ci/
# scenarios force those kinds on, and a server-side dry-run needs the kinds to exist.
if command -v kubectl >/dev/null; then
  kubectl apply --server-side --force-conflicts -f "$(dirname "$0")/../src/tfserving_harness/crds/"
else
  echo "kind-up: kubectl not found; CRD-backed ci/ scenarios will fail the dry-run until the CRDs in src/tfserving_harness/crds/ are applied" >&2
fi
echo "kind-up: KUBECONFIG=$KUBECONFIG; run: make test-integration"
