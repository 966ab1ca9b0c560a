{{/*
Autoscaling: HPA, KEDA ScaledObject, VPA, and the prometheus-adapter rules that make the HPA's
custom and external metrics exist. Per-track bodies take a track context.
*/}}

{{/*
"true" when something other than the Deployment owns the track's replica count (HPA or KEDA).
The Deployment then omits spec.replicas, so `helm upgrade` does not reset the scaler's choice.
Takes a track context.
*/}}
{{- define "tf-serving.autoscaled" -}}
{{- if or .Values.autoscaling.enabled (and .Values.autoscaling.keda.enabled (include "tf-serving.kedaAvailable" .)) -}}
true
{{- end }}
{{- end }}

{{/*
"true" when ScaledObjects can be rendered: the CRD is served or autoscaling.keda.force is set.
*/}}
{{- define "tf-serving.kedaAvailable" -}}
{{- if or .Values.autoscaling.keda.force (.Capabilities.APIVersions.Has "keda.sh/v1alpha1/ScaledObject") -}}
true
{{- end }}
{{- end }}

{{/*
"true" when VerticalPodAutoscalers can be rendered.
*/}}
{{- define "tf-serving.vpaAvailable" -}}
{{- if or .Values.autoscaling.vpa.force (.Capabilities.APIVersions.Has "autoscaling.k8s.io/v1/VerticalPodAutoscaler") -}}
true
{{- end }}
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
The HPA metrics of one track: the raw autoscaling.metrics list, else built from the shorthands.
Takes a track context.
*/}}
{{- define "tf-serving.hpaMetrics" -}}
{{- $a := .Values.autoscaling }}
{{- if $a.metrics }}
{{- toYaml $a.metrics }}
{{- else }}
{{- if $a.cpu.enabled }}
- type: Resource
  resource:
    name: cpu
    target:
      type: Utilization
      averageUtilization: {{ $a.cpu.averageUtilization }}
{{- end }}
{{- if $a.memory.enabled }}
# Memory roughly doubles while a new model version loads next to the old one.
- type: Resource
  resource:
    name: memory
    target:
      type: Utilization
      averageUtilization: {{ $a.memory.averageUtilization }}
{{- end }}
{{- if $a.requestsPerSecond.enabled }}
# Served by the prometheus-adapter rule for :tensorflow:serving:request_count (per pod).
- type: Pods
  pods:
    metric:
      name: {{ $a.requestsPerSecond.metricName }}
    target:
      type: AverageValue
      averageValue: {{ $a.requestsPerSecond.averageValue | quote }}
{{- end }}
{{- if $a.latency.enabled }}
# Served by the prometheus-adapter external rule over :tensorflow:serving:request_latency_bucket.
- type: External
  external:
    metric:
      name: {{ $a.latency.metricName }}
      selector:
        matchLabels:
          app_kubernetes_io_instance: {{ .Release.Name | quote }}
          tf_serving_io_track: {{ .Track | quote }}
    target:
      type: Value
      value: {{ $a.latency.value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
HorizontalPodAutoscaler of one track. Takes a track context.
*/}}
{{- define "tf-serving.hpa" -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .TrackFullname }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "tf-serving.trackLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .TrackFullname }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    {{- include "tf-serving.hpaMetrics" . | trim | nindent 4 }}
  {{- with .Values.autoscaling.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
PromQL KEDA evaluates for one track: requests per second over the track's pods, from the real
counter. KEDA divides it by the replica count and compares with the threshold (AverageValue).
Takes a track context.
*/}}
{{- define "tf-serving.kedaQuery" -}}
{{- $k := .Values.autoscaling.keda -}}
sum(rate(:tensorflow:serving:request_count{ {{- include "tf-serving.promTrackMatchers" . -}} }[{{ $k.rateWindow }}]))
{{- end }}

{{/*
KEDA ScaledObject of one track. Takes a track context.
*/}}
{{- define "tf-serving.scaledObject" -}}
{{- $k := .Values.autoscaling.keda -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ .TrackFullname }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "tf-serving.trackLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .TrackFullname }}
  minReplicaCount: {{ .Values.autoscaling.minReplicas }}
  maxReplicaCount: {{ .Values.autoscaling.maxReplicas }}
  pollingInterval: {{ $k.pollingInterval }}
  cooldownPeriod: {{ $k.cooldownPeriod }}
  {{- with .Values.autoscaling.behavior }}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        {{- toYaml . | nindent 8 }}
  {{- end }}
  triggers:
    - type: prometheus
      metricType: AverageValue
      metadata:
        serverAddress: {{ $k.serverAddress | quote }}
        query: {{ include "tf-serving.kedaQuery" . | quote }}
        threshold: {{ $k.threshold | quote }}
      {{- with $k.authenticationRef }}
      authenticationRef:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{/*
VerticalPodAutoscaler of one track, recommendation only (updateMode "Off"): it never evicts a
serving pod, so it coexists with an HPA. Takes a track context.
*/}}
{{- define "tf-serving.vpa" -}}
{{- $v := .Values.autoscaling.vpa -}}
apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata:
  name: {{ .TrackFullname }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "tf-serving.trackLabels" . | nindent 4 }}
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .TrackFullname }}
  updatePolicy:
    updateMode: "Off"
  resourcePolicy:
    containerPolicies:
      - containerName: tf-serving
        controlledResources:
          {{- toYaml $v.controlledResources | nindent 10 }}
        {{- with $v.minAllowed }}
        minAllowed:
          {{- toYaml . | nindent 10 }}
        {{- end }}
        {{- with $v.maxAllowed }}
        maxAllowed:
          {{- toYaml . | nindent 10 }}
        {{- end }}
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
    metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[{{ $a.prometheusAdapter.rateWindow }}])) by (<<.GroupBy>>)'
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
