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
echo "kind-up: KUBECONFIG=$KUBECONFIG; run: make test-integration"
