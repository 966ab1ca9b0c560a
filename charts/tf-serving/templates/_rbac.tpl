{{/*
Rules of the deployer Role: read what a promotion inspects, patch what it moves. Patching the
Deployments and Services is limited to this release's own objects (resourceNames); Ingresses and
Gateway API routes may be owned elsewhere, so those are namespace-wide. `get` comes with every
`patch` because kubectl reads an object before patching it.
*/}}
{{- define "tf-serving.deployerRules" -}}
{{- $deployments := include "tf-serving.trackFullnames" . | fromJsonArray }}
{{- $services := list (include "tf-serving.fullname" .) }}
{{- if gt (len $deployments) 1 }}
{{- $services = concat $services $deployments | uniq }}
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
