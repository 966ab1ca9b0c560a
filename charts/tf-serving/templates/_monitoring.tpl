{{/*
Monitoring helpers: scrape gates, PromQL scoping, names shared by the ServiceMonitor, the
PrometheusRule and the Grafana dashboard.
*/}}

{{/*
Label matchers that scope TF Serving's series (and the chart's recording rules) to this release.
`app_kubernetes_io_instance` is the pod label `app.kubernetes.io/instance` copied onto the target
(podTargetLabels, or the `__meta_kubernetes_pod_label_(.+)` labelmap of annotation-based jobs).
*/}}
{{- define "tf-serving.promReleaseMatchers" -}}
namespace="{{ .Release.Namespace }}",app_kubernetes_io_instance="{{ .Release.Name }}"
{{- end }}

{{/*
Pod labels copied onto every scraped series, so PromQL can tell releases and tracks apart.
*/}}
{{- define "tf-serving.podTargetLabels" -}}
- app.kubernetes.io/name
- app.kubernetes.io/instance
- tf-serving.io/track
{{- end }}

{{/*
Object names of every track's Deployment (= HPA/ScaledObject/VPA names), as a JSON list.
*/}}
{{- define "tf-serving.trackFullnames" -}}
{{- $names := list }}
{{- range $track := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (list $ $track $ctx) }}
{{- $names = append $names $ctx.TrackFullname }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/*
Regex (PromQL, fully anchored) matching the release's Deployment names.
*/}}
{{- define "tf-serving.deploymentRegex" -}}
{{- include "tf-serving.trackFullnames" . | fromJsonArray | join "|" }}
{{- end }}

{{/*
Regex matching the release's pod names: `<deployment>-<pod-template-hash>-<suffix>`. Neither
generated part contains a dash, so another release whose name extends this one never matches.
*/}}
{{- define "tf-serving.podRegex" -}}
({{ include "tf-serving.deploymentRegex" . }})-[a-z0-9]+-[a-z0-9]+
{{- end }}

{{/*
kube-state-metrics / cAdvisor matchers for the serving container of this release.
*/}}
{{- define "tf-serving.promContainerMatchers" -}}
namespace="{{ .Release.Namespace }}",pod=~"{{ include "tf-serving.podRegex" . }}",container="tf-serving"
{{- end }}

{{/*
Names of the HPAs that scale this release's tracks, as a JSON list: one per track whose own
effective values turn on an HPA (top-level or the track's `autoscaling.enabled`) or KEDA (which
names its HPA keda-hpa-<ScaledObject>). Empty when nothing is autoscaled.
*/}}
{{- define "tf-serving.hpaNames" -}}
{{- $names := list }}
{{- range $track := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (list $ $track $ctx) }}
{{- if include "tf-serving.autoscaled" $ctx }}
{{- if and $ctx.Values.autoscaling.keda.enabled (include "tf-serving.kedaAvailable" $ctx) }}
{{- $names = append $names (printf "keda-hpa-%s" $ctx.TrackFullname) }}
{{- else }}
{{- $names = append $names $ctx.TrackFullname }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/*
Regex matching the HPA names whose kube-state-metrics series belong to this release (tf-serving.hpaNames).
*/}}
{{- define "tf-serving.hpaRegex" -}}
{{- include "tf-serving.hpaNames" . | fromJsonArray | join "|" }}
{{- end }}

{{/*
"true" when the monitoring.coreos.com kind (ServiceMonitor, PodMonitor, PrometheusRule) given as
(list $ "Kind" force) can be rendered.
*/}}
{{- define "tf-serving.monitoringAvailable" -}}
{{- $root := index . 0 }}
{{- if or (index . 2) ($root.Capabilities.APIVersions.Has (printf "monitoring.coreos.com/v1/%s" (index . 1))) -}}
true
{{- end }}
{{- end }}

{{/*
The headless Service the ServiceMonitor scrapes: it selects every serving pod of the release
(all tracks) once. The main and per-track Services overlap (the primary track is behind both),
so scraping them would count the primary track twice.
*/}}
{{- define "tf-serving.metricsServiceName" -}}
{{- printf "%s-metrics" (include "tf-serving.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "tf-serving.metricsService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tf-serving.metricsServiceName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "tf-serving.labels" . | nindent 4 }}
    tf-serving.io/service: metrics
spec:
  type: ClusterIP
  clusterIP: None
  selector:
    {{- include "tf-serving.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.server.restPort }}
      targetPort: http
      protocol: TCP
      appProtocol: http
{{- end }}

{{/*
The scrape endpoint shared by ServiceMonitor endpoints and PodMonitor podMetricsEndpoints.
*/}}
{{- define "tf-serving.scrapeEndpoint" -}}
{{- $m := index . 1 -}}
- port: http
  path: {{ (index . 0).Values.metrics.path }}
  scheme: http
  interval: {{ $m.interval }}
  scrapeTimeout: {{ $m.scrapeTimeout }}
  {{- with $m.relabelings }}
  relabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $m.metricRelabelings }}
  metricRelabelings:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
Labels of one alert: (list $ alertValues alertName).
*/}}
{{- define "tf-serving.alertLabels" -}}
{{- $root := index . 0 -}}
severity: {{ (index . 1).severity }}
{{- with $root.Values.monitoring.prometheusRule.alertLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
runbook_url annotation of one alert, when there is one: (list $ alertValues alertName).
*/}}
{{- define "tf-serving.runbook" -}}
{{- $root := index . 0 }}
{{- $url := (index . 1).runbookUrl }}
{{- if and (not $url) $root.Values.monitoring.prometheusRule.runbookBaseUrl }}
{{- $url = printf "%s#%s" (trimSuffix "/" $root.Values.monitoring.prometheusRule.runbookBaseUrl) (lower (index . 2)) }}
{{- end }}
{{- with $url }}
runbook_url: {{ . | quote }}
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
