{{/*
Prometheus: label matchers and name regexes that scope PromQL to this release (recording rules,
alerts, KEDA, the dashboard), the scrape endpoint the ServiceMonitor and PodMonitor share, and the
prometheus-adapter rules.
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
Label matchers that scope TF Serving's series to one track of this release. The target labels come
from the pod labels (ServiceMonitor/PodMonitor podTargetLabels, or the labelmap of an
annotation-based scrape job), so they are the same in every supported scrape setup.
Takes a track context.
*/}}
{{- define "tf-serving.promTrackMatchers" -}}
{{ include "tf-serving.promReleaseMatchers" . }},tf_serving_io_track="{{ .Track }}"
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
The scrape endpoint shared by ServiceMonitor endpoints and PodMonitor podMetricsEndpoints:
(dict "root" $ "monitor" .Values.monitoring.serviceMonitor|podMonitor).
*/}}
{{- define "tf-serving.scrapeEndpoint" -}}
{{- $m := .monitor -}}
- port: http
  path: {{ .root.Values.metrics.path }}
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
{{- include "tf-serving.trackContext" (dict "root" $ "track" $track "ctx" $ctx) }}
{{- if include "tf-serving.autoscaled" $ctx }}
{{- if $ctx.Values.autoscaling.keda.enabled }}
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
prometheus-adapter rules (its config file format: `rules` = custom metrics, `externalRules`)
that expose TF Serving's real metrics under the names the HPA asks for. Release independent:
one adapter serves every release; the HPA's pod set (custom) or selector (external) scopes them.
Used by the opt-in ConfigMap and by examples/prometheus-adapter-values.yaml.
*/}}
{{- define "tf-serving.prometheusAdapterRules" -}}
{{- $a := .Values.autoscaling -}}
rules:
  # Requests per second per pod, all models and statuses (rejected requests are load too).
  # TF Serving creates a request_count series at a pod's first request, so a pod that has served
  # none (just started, or reached only by new connections) has no series: the adapter would leave
  # it out and the HPA, scaling down, counts a pod without a value as at its target, which holds a
  # Deployment above minReplicas for as long as any pod stays idle. The `or` branch answers 0 for
  # every pod of the request that Prometheus scrapes successfully (`up == 1`) and has no series.
  - seriesQuery: ':tensorflow:serving:request_count{namespace!="",pod!=""}'
    resources:
      overrides:
        namespace:
          resource: namespace
        pod:
          resource: pod
    name:
      matches: "^:tensorflow:serving:request_count$"
      as: {{ $a.requestsPerSecond.metricName | quote }}
    metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[{{ $a.prometheusAdapter.rateWindow }}])) by (<<.GroupBy>>) or sum(0 * (up{<<.LabelMatchers>>} == 1)) by (<<.GroupBy>>)'
externalRules:
  # Latency quantile in milliseconds (the histogram is in microseconds), successful requests only.
  # The HPA's selector (release and track labels) and its namespace scope the series.
  # A track without traffic (canary at weight 0, idle blue/green colour) has no latency sample:
  # no buckets at all (empty result) or buckets that do not grow (histogram_quantile gives NaN).
  # `>= 0` drops NaN; the `or` branch then answers 0 ms, but only while a target of the same
  # track (same <<.LabelMatchers>>, so the same namespace/release/track) is scraped successfully
  # (`up == 1`): an idle track scales down, a track Prometheus cannot see stays an error.
  # Both sides have no labels, so `or` keeps the real quantile whenever there is one.
  - seriesQuery: ':tensorflow:serving:request_latency_bucket{namespace!=""}'
    resources:
      overrides:
        namespace:
          resource: namespace
    name:
      matches: "^:tensorflow:serving:request_latency_bucket$"
      as: {{ $a.latency.metricName | quote }}
    metricsQuery: '(histogram_quantile({{ $a.latency.quantile }}, sum by (le) (rate(<<.Series>>{<<.LabelMatchers>>}[{{ $a.prometheusAdapter.rateWindow }}]))) / 1000 >= 0) or (0 * max(up{<<.LabelMatchers>>} == 1))'
{{- end }}
