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
