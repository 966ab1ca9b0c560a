{{/*
Autoscaling: one scaler (HPA or KEDA), and what KEDA needs.
*/}}
{{- define "tf-serving.validate.autoscaling" -}}
{{- $a := .Values.autoscaling }}
{{- if and $a.enabled $a.keda.enabled }}
{{- fail "tf-serving: autoscaling.enabled (HPA) and autoscaling.keda.enabled are both true; KEDA creates its own HPA, so turn one of them off" }}
{{- end }}
{{- if $a.keda.enabled }}
{{- include "tf-serving.requireApi" (dict "root" . "api" "keda.sh/v1alpha1/ScaledObject" "force" $a.keda.force "enabledBy" "autoscaling.keda.enabled" "forcePath" "autoscaling.keda.force" "install" "KEDA") }}
{{- end }}
{{- if $a.vpa.enabled }}
{{- include "tf-serving.requireApi" (dict "root" . "api" "autoscaling.k8s.io/v1/VerticalPodAutoscaler" "force" $a.vpa.force "enabledBy" "autoscaling.vpa.enabled" "forcePath" "autoscaling.vpa.force" "install" "the Vertical Pod Autoscaler (its CRDs)") }}
{{- end }}
{{- if and $a.keda.enabled (not $a.keda.serverAddress) }}
{{- fail "tf-serving: autoscaling.keda.serverAddress is empty; set the Prometheus URL KEDA queries, e.g. http://prometheus-operated.monitoring.svc:9090" }}
{{- end }}
{{- end }}

{{/*
Autoscaling of one track: replica bounds and metrics of its effective values. Per track: called from validate.yaml with (dict "root" $ "track" $track "ctx" $ctx).
*/}}
{{- define "tf-serving.validate.autoscaling.track" -}}
{{- $root := .root }}
{{- $track := .track }}
{{- $ctx := .ctx }}
{{- $a := $root.Values.autoscaling }}
{{- $ta := $ctx.Values.autoscaling }}
{{- $enabledPath := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "autoscaling.enabled") }}
{{- if and $ta.enabled $a.keda.enabled (ne $enabledPath "autoscaling.enabled") }}
{{- fail (printf "tf-serving: %s is true but autoscaling.keda.enabled is true too; KEDA already scales every track, remove the track's override" $enabledPath) }}
{{- end }}
{{- if or $ta.enabled $a.keda.enabled }}
{{- if gt (int $ta.minReplicas) (int $ta.maxReplicas) }}
{{- $minPath := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "autoscaling.minReplicas") }}
{{- $maxPath := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "autoscaling.maxReplicas") }}
{{- fail (printf "tf-serving: %s (%d) is greater than %s (%d) for track %s; lower the minimum or raise the maximum" $minPath (int $ta.minReplicas) $maxPath (int $ta.maxReplicas) $track) }}
{{- end }}
{{- end }}
{{- if $ta.enabled }}
{{- if $ta.metrics }}
{{- range $i, $m := $ta.metrics }}
{{- $key := dict "Resource" "resource" "ContainerResource" "containerResource" "Pods" "pods" "Object" "object" "External" "external" }}
{{- $source := index $m (get $key ($m.type | toString) | default "-") }}
{{- if not (and $source (kindIs "map" $source) $source.target) }}
{{- fail (printf "tf-serving: %s[%d] (type %v) has no %s.target; every metric needs a target (e.g. {type: Utilization, averageUtilization: 70})" (include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "autoscaling.metrics")) $i $m.type (get $key ($m.type | toString) | default "<type>")) }}
{{- end }}
{{- include "tf-serving.validate.metricTarget" (dict "metric" $m "source" $source "path" (printf "%s[%d].%s" (include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "autoscaling.metrics")) $i (get $key ($m.type | toString)))) }}
{{- end }}
{{- else if not (or $ta.cpu.enabled $ta.memory.enabled $ta.requestsPerSecond.enabled $ta.latency.enabled) }}
{{- fail (printf "tf-serving: autoscaling.enabled is true (track %s) but no metric is on; enable autoscaling.cpu, .memory, .requestsPerSecond or .latency, or give autoscaling.metrics" $track) }}
{{- end }}
{{- /* A Utilization target is a percentage of the pods' request (defaulted from the limit when
only a limit is set): without either the HPA reports FailedGetResourceMetric and never scales. */}}
{{- $utilization := list }}
{{- if $ta.metrics }}
{{- $metricsPath := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "autoscaling.metrics") }}
{{- range $i, $m := $ta.metrics }}
{{- $source := ternary $m.resource $m.containerResource (eq (toString $m.type) "Resource") }}
{{- $ours := or (eq (toString $m.type) "Resource") (and (eq (toString $m.type) "ContainerResource") (eq (toString ($source | default dict).container) "tf-serving")) }}
{{- if and $ours (eq (toString $source.target.type) "Utilization") }}
{{- $utilization = append $utilization (list (toString $source.name) (printf "%s[%d]" $metricsPath $i)) }}
{{- end }}
{{- end }}
{{- else }}
{{- range $name := list "cpu" "memory" }}
{{- if (index $ta $name).enabled }}
{{- $utilization = append $utilization (list $name (include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" (printf "autoscaling.%s.enabled" $name)))) }}
{{- end }}
{{- end }}
{{- end }}
{{- $resources := include "tf-serving.containerResources" $ctx | fromJson }}
{{- $resourcesPath := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "resources") }}
{{- range $metric := $utilization }}
{{- $name := index $metric 0 }}
{{- if not (or (index ($resources.requests | default dict) $name) (index ($resources.limits | default dict) $name)) }}
{{- fail (printf "tf-serving: %s.requests.%s is not set (nor a limit) for track %s, but %s asks the HPA for %s Utilization, a percentage of that request, so it cannot compute it and never scales; set %s.requests.%s, or scale on an AverageValue target instead" $resourcesPath $name $track (index $metric 1) $name $resourcesPath $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
One HPA metric's target as the HPA controller reads it (pkg/controller/podautoscaler/horizontal.go),
which is not always what its `type` says, though the API server accepts it:
(dict "metric" $m "source" $m.resource "path" "autoscaling.metrics[0].resource").
- Resource and ContainerResource: averageValue, when set, is a raw per-pod usage target whatever the
  type; else averageUtilization. Only cpu and memory exist in the resource metrics API.
- Pods: always averageValue.
- Object: type Value with value, or AverageValue with averageValue; anything else fails
  ("invalid object metric source") and the HPA never scales.
- External: averageValue when set, else value.
So each type must come with its own field, alone: Utilization with averageUtilization,
AverageValue with averageValue, Value with value; and each source only with the types it reads.
*/}}
{{- define "tf-serving.validate.metricTarget" -}}
{{- $type := toString .metric.type }}
{{- $target := .source.target }}
{{- $path := .path }}
{{- $reads := dict "Resource" (list "Utilization" "AverageValue") "ContainerResource" (list "Utilization" "AverageValue") "Pods" (list "AverageValue") "Object" (list "Value" "AverageValue") "External" (list "Value" "AverageValue") }}
{{- $fields := dict "Utilization" "averageUtilization" "AverageValue" "averageValue" "Value" "value" }}
{{- $targetType := toString $target.type }}
{{- if and (hasKey $reads $type) (hasKey $fields $targetType) }}
{{- if not (has $targetType (get $reads $type)) }}
{{- fail (printf "tf-serving: %s.target.type is %s, which a %s metric cannot use: the HPA controller reads a %s metric's target as %s only, so this one would be misread or never computed (it reports FailedGet%sMetric and never scales); use type %s" $path $targetType $type $type (join " or " (get $reads $type)) (ternary "Resource" $type (eq $type "ContainerResource")) (first (get $reads $type))) }}
{{- end }}
{{- $want := get $fields $targetType }}
{{- range $other := list "averageUtilization" "averageValue" "value" }}
{{- if and (ne $other $want) (not (kindIs "invalid" (index $target $other))) }}
{{- $why := printf "the HPA controller reads a %s target from %s, and %s would be ignored" $targetType $want $other }}
{{- if and (eq $other "averageValue") (has $type (list "Resource" "ContainerResource" "External")) }}
{{- $why = printf "the HPA controller reads averageValue whenever it is set, whatever the type says, so this %s target would silently be a raw per-pod value (a 70 meant as 70%% becomes 70 cores or bytes, and scaling never fires)" $targetType }}
{{- end }}
{{- fail (printf "tf-serving: %s.target has type %s but sets %s: %s (pkg/controller/podautoscaler/horizontal.go); set only %s, or change the type to the one %s belongs to" $path $targetType $other $why $want $other) }}
{{- end }}
{{- end }}
{{- if kindIs "invalid" (index $target $want) }}
{{- fail (printf "tf-serving: %s.target has type %s but no %s: the HPA controller reads a %s target from %s, so it cannot compute this metric and never scales; set %s.target.%s" $path $targetType $want $targetType $want $path $want) }}
{{- end }}
{{- end }}
{{- if and (has $type (list "Resource" "ContainerResource")) (not (has (toString .source.name) (list "cpu" "memory"))) }}
{{- fail (printf "tf-serving: %s.name is %v, but the resource metrics API (metrics-server) serves only cpu and memory, so the HPA reports FailedGet%sMetric and never scales; use cpu or memory, or a Pods or External metric for anything else" $path .source.name (ternary "ContainerResource" "Resource" (eq $type "ContainerResource"))) }}
{{- end }}
{{- end }}
