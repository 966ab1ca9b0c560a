{{/*
Monitoring: one scrape setup, scrape timings, what needs metrics.enabled, the dashboard's rules,
metrics.path kept off the Ingress and HTTPRoute (prefix matching is by path element: `/v1` covers
`/v1` and `/v1/x`, not `/v1x`; an ImplementationSpecific Ingress path counts as a prefix), and
alert windows.
*/}}
{{- define "tf-serving.validate.monitoring" -}}
{{- $a := .Values.autoscaling }}
{{- $m := .Values.monitoring }}
{{- if and $m.serviceMonitor.enabled $m.podMonitor.enabled }}
{{- fail "tf-serving: monitoring.serviceMonitor.enabled and monitoring.podMonitor.enabled are both true; Prometheus would scrape every pod twice, keep one" }}
{{- end }}
{{- range $kind := list "serviceMonitor" "podMonitor" }}
{{- $scrape := index $m $kind }}
{{- if and $scrape.enabled (gt (int64 (include "tf-serving.durationMillis" $scrape.scrapeTimeout)) (int64 (include "tf-serving.durationMillis" $scrape.interval))) }}
{{- fail (printf "tf-serving: monitoring.%s.scrapeTimeout (%s) is longer than monitoring.%s.interval (%s); Prometheus rejects such a scrape config, shorten the timeout" $kind $scrape.scrapeTimeout $kind $scrape.interval) }}
{{- end }}
{{- end }}
{{- if not .Values.metrics.enabled }}
{{- range $path, $on := dict "monitoring.serviceMonitor.enabled" $m.serviceMonitor.enabled "monitoring.podMonitor.enabled" $m.podMonitor.enabled "monitoring.prometheusRule.enabled" $m.prometheusRule.enabled "monitoring.dashboard.enabled" $m.dashboard.enabled "monitoring.scrapeAnnotations" $m.scrapeAnnotations "autoscaling.requestsPerSecond.enabled" (and $a.enabled $a.requestsPerSecond.enabled) "autoscaling.latency.enabled" (and $a.enabled $a.latency.enabled) "autoscaling.keda.enabled" $a.keda.enabled }}
{{- if $on }}
{{- fail (printf "tf-serving: %s is true but metrics.enabled is false, so TF Serving exports no metrics; set metrics.enabled=true or turn %s off" $path $path) }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.metrics.enabled }}
{{- range $kind := list "ServiceMonitor" "PodMonitor" "PrometheusRule" }}
{{- $key := printf "%s%s" (lower (substr 0 1 $kind)) (substr 1 -1 $kind) }}
{{- if (index $m $key).enabled }}
{{- include "tf-serving.requireApi" (dict "root" $ "api" (printf "monitoring.coreos.com/v1/%s" $kind) "force" (index $m $key).force "enabledBy" (printf "monitoring.%s.enabled" $key) "forcePath" (printf "monitoring.%s.force" $key) "install" "the prometheus-operator CRDs (e.g. with kube-prometheus-stack)") }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $m.dashboard.enabled (not $m.prometheusRule.enabled) }}
{{- fail "tf-serving: monitoring.dashboard.enabled is true but monitoring.prometheusRule.enabled is false; the dashboard reads the PrometheusRule's recording rules, enable both" }}
{{- end }}
{{- range $kind := list "serviceMonitor" "podMonitor" }}
{{- if and $m.scrapeAnnotations (index $m $kind).enabled }}
{{- fail (printf "tf-serving: monitoring.scrapeAnnotations and monitoring.%s.enabled are both true; Prometheus would scrape every pod twice (the annotation job and the %s), doubling the request rates that KEDA, the prometheus-adapter rules and the alerts read: set monitoring.scrapeAnnotations=false (or turn the %s off)" $kind (ternary "ServiceMonitor" "PodMonitor" (eq $kind "serviceMonitor")) $kind) }}
{{- end }}
{{- end }}
{{- if and .Values.metrics.enabled (not .Values.metrics.allowUnderExposedPath) }}
{{- $metrics := .Values.metrics.path }}
{{- $exposed := list }}
{{- if .Values.ingress.enabled }}
{{- $exposed = append $exposed (dict "value" "ingress.path" "path" .Values.ingress.path "exact" (eq .Values.ingress.pathType "Exact")) }}
{{- end }}
{{- if include "tf-serving.gatewayRouteEnabled" (dict "root" $ "kind" "HTTPRoute") }}
{{- $exposed = append $exposed (dict "value" "gatewayApi.http.path" "path" .Values.gatewayApi.http.path "exact" false) }}
{{- end }}
{{- range $exposed }}
{{- $prefix := trimSuffix "/" .path }}
{{- $covers := ternary (eq .path $metrics) (or (eq $prefix "") (eq (trimSuffix "/" $metrics) $prefix) (hasPrefix (printf "%s/" $prefix) $metrics)) .exact }}
{{- if $covers }}
{{- fail (printf "tf-serving: %s %q exposes metrics.path %q outside the cluster (the metrics share the REST port); route only TF Serving's REST API with %s=/v1/, or move metrics.path out of it, or set metrics.allowUnderExposedPath=true if that is intended" .value .path $metrics .value) }}
{{- end }}
{{- end }}
{{- end }}
{{- /* TFServingModelLoadFailed is true for the 15m after a single failed load (its window), and
Prometheus only checks `for` at its evaluations, every evaluation_interval (1m by default): a `for`
above 14m needs a 16th evaluation inside the window and never fires (promtool shows 14m59s silent). */}}
{{- $load := .Values.monitoring.prometheusRule.alerts.modelLoadFailures }}
{{- if and .Values.monitoring.prometheusRule.enabled $load.enabled (gt (int64 (include "tf-serving.durationMillis" $load.for)) 840000) }}
{{- fail (printf "tf-serving: monitoring.prometheusRule.alerts.modelLoadFailures.for is %s but the alert is true only for the 15m after a failed load, checked at each rule evaluation (1m by default), so a single failed load would never fire it; use 14m or less (default 0m)" $load.for) }}
{{- end }}
{{- end }}

{{/*
A Prometheus duration (`1m30s`, `15s`, `500ms`) in milliseconds, for comparisons in _validate.tpl.
*/}}
{{- define "tf-serving.durationMillis" -}}
{{- $units := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 "w" 604800000 "y" 31536000000 }}
{{- $total := 0 }}
{{- range regexFindAll "[0-9]+(ms|s|m|h|d|w|y)" (toString .) -1 }}
{{- $total = add $total (mul (regexFind "^[0-9]+" .) (get $units (regexFind "[a-z]+$" .))) }}
{{- end }}
{{- $total }}
{{- end }}
