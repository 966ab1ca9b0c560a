{{/*
Rules of the deployer Role: read what a promotion inspects, patch what it moves. Patching the
Deployments and the traffic Services (main, per-track, preview) is limited to this release's own
objects (resourceNames, from the same helpers that name those objects); Ingresses and
Gateway API routes may be owned elsewhere, so those are namespace-wide. `get` comes with every
`patch` because kubectl reads an object before patching it.
*/}}
{{- define "tf-serving.deployerRules" -}}
{{- /* Deployment names come from the track contexts deployment.yaml renders; Service names from
the plan service.yaml ranges over. The headless metrics Service selects every track and no
promotion moves it, so it is left out. */}}
{{- $deployments := include "tf-serving.trackFullnames" . | fromJsonArray }}
{{- $services := list }}
{{- range include "tf-serving.servicePlan" . | fromJsonArray }}
{{- if ne .role "metrics" }}
{{- $services = append $services .name }}
{{- end }}
{{- end }}
- apiGroups: [""]
  resources: ["pods", "services"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  resourceNames: {{ $deployments | toJson }}
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["services"]
  resourceNames: {{ $services | toJson }}
  verbs: ["patch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "patch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes", "grpcroutes"]
  verbs: ["get", "patch"]
{{- end }}
