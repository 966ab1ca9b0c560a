{{/*
Every Service the release renders, as a JSON list of {name, role, track}: `main` (the release's
Service, routed to the primary track), `track` (one per track when there are several), `preview`
(blue/green idle colour) and `metrics` (headless, every track, for the ServiceMonitor).
service.yaml ranges over this list and the deployer Role takes its resourceNames from it, so the
two cannot drift.
*/}}
{{- define "tf-serving.servicePlan" -}}
{{- $tracks := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $plan := list (dict "name" (include "tf-serving.fullname" .) "role" "main" "track" (include "tf-serving.primaryTrack" .)) }}
{{- if gt (len $tracks) 1 }}
{{- range $track := $tracks }}
{{- $plan = append $plan (dict "name" (include "tf-serving.trackServiceName" (list $ $track)) "role" "track" "track" $track) }}
{{- end }}
{{- end }}
{{- if and .Values.blueGreen.enabled .Values.blueGreen.preview }}
{{- $plan = append $plan (dict "name" (include "tf-serving.previewServiceName" .) "role" "preview" "track" (include "tf-serving.idleColour" .)) }}
{{- end }}
{{- if and .Values.metrics.enabled .Values.monitoring.serviceMonitor.enabled (include "tf-serving.monitoringAvailable" (list . "ServiceMonitor" .Values.monitoring.serviceMonitor.force)) }}
{{- $plan = append $plan (dict "name" (include "tf-serving.metricsServiceName" .) "role" "metrics" "track" "") }}
{{- end }}
{{- toJson $plan }}
{{- end }}

{{/*
A Service in front of one track's pods. Called with a track context plus .ServiceName and
.ServiceRole (`main`: the release's Service, routed to the primary track; `track`: one per track).
*/}}
{{- define "tf-serving.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .ServiceName }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "tf-serving.labels" . | nindent 4 }}
    tf-serving.io/service: {{ .ServiceRole }}
    {{- with .Values.service.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .Values.service.type }}
  selector:
    {{- include "tf-serving.trackSelectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ .Values.service.grpcPort }}
      targetPort: grpc
      protocol: TCP
      {{- with .Values.service.grpcAppProtocol }}
      appProtocol: {{ . }}
      {{- end }}
    - name: http
      port: {{ .Values.service.httpPort }}
      targetPort: http
      protocol: TCP
      appProtocol: http
{{- end }}
