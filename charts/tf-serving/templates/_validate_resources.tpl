{{/*
Resources: what ValidateResourceRequirements (pkg/apis/core/validation) refuses across one
container's requests and limits, beyond the names and quantities values.schema.json checks and
the requests-within-limits check (_validate_pod.tpl). Release-wide: the download and helm test
containers; per track: the server container as it gets its resources (with the GPU limit).
*/}}
{{- define "tf-serving.validate.resources" -}}
{{- include "tf-serving.validate.resourcePairs" (dict "resources" (.Values.modelStorage.initContainer.resources | default dict) "path" "modelStorage.initContainer.resources" "limitPaths" dict) }}
{{- include "tf-serving.validate.resourcePairs" (dict "resources" (.Values.helmTest.resources | default dict) "path" "helmTest.resources" "limitPaths" dict) }}
{{- end }}

{{- define "tf-serving.validate.resources.track" -}}
{{- $ctx := .ctx }}
{{- $limitPaths := dict }}
{{- if $ctx.Values.gpu.enabled }}
{{- $_ := set $limitPaths $ctx.Values.gpu.resourceName (include "tf-serving.trackValuePath" (dict "root" .root "track" .track "key" "gpu.count")) }}
{{- end }}
{{- $path := include "tf-serving.trackValuePath" (dict "root" .root "track" .track "key" "resources") }}
{{- include "tf-serving.validate.resourcePairs" (dict "resources" (include "tf-serving.containerResources" $ctx | fromJson) "path" $path "limitPaths" $limitPaths) }}
{{- end }}

{{/*
One container's resources, (dict "resources" $r "path" "resources" "limitPaths" $paths):
- an extended resource (a domain-prefixed name outside kubernetes.io, e.g. nvidia.com/gpu) cannot
  be overcommitted: a request needs a limit, and the two must be equal;
- hugepages-* need a cpu or memory request or limit beside them.
`limitPaths` names the value a limit comes from when it is not `<path>.limits.<name>`.
*/}}
{{- define "tf-serving.validate.resourcePairs" -}}
{{- $path := .path }}
{{- $limits := .resources.limits | default dict }}
{{- $requests := .resources.requests | default dict }}
{{- range $name, $request := $requests }}
{{- if and (contains "/" $name) (not (contains "kubernetes.io/" $name)) (not (kindIs "invalid" $request)) }}
{{- $limit := index $limits $name }}
{{- $limitPath := get $.limitPaths $name | default (printf "%s.limits.%s" $path $name) }}
{{- if kindIs "invalid" $limit }}
{{- fail (printf "tf-serving: %s.requests.%s is set without %s: %s is an extended resource, which cannot be overcommitted, so the API server refuses a request without a limit (\"Limit must be set for non overcommitable resources\"); set the limit to the same number, or drop the request (the limit alone sets both)" $path $name $limitPath $name) }}
{{- end }}
{{- $requestMilli := include "tf-serving.quantityMilli" (dict "quantity" $request "path" (printf "%s.requests.%s" $path $name)) }}
{{- $limitMilli := include "tf-serving.quantityMilli" (dict "quantity" $limit "path" $limitPath) }}
{{- if ne $requestMilli $limitMilli }}
{{- fail (printf "tf-serving: %s.requests.%s (%v) differs from %s (%v): %s is an extended resource, which cannot be overcommitted, so the API server refuses a request that is not equal to its limit; set both to the same number, or drop the request" $path $name $request $limitPath $limit $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- $hugePages := list }}
{{- $cpuOrMemory := false }}
{{- range $map := list $requests $limits }}
{{- range $name, $value := $map }}
{{- if and (hasPrefix "hugepages-" $name) (not (kindIs "invalid" $value)) }}{{ $hugePages = append $hugePages $name }}{{ end }}
{{- if and (has $name (list "cpu" "memory")) (not (kindIs "invalid" $value)) }}{{ $cpuOrMemory = true }}{{ end }}
{{- end }}
{{- end }}
{{- if and $hugePages (not $cpuOrMemory) }}
{{- fail (printf "tf-serving: %s asks for %s but sets no cpu or memory request or limit: the API server refuses it (\"HugePages require cpu or memory\"); add %s.limits.memory" $path (first $hugePages) $path) }}
{{- end }}
{{- end }}
