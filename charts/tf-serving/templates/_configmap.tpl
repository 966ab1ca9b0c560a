{{/*
The TF Serving config files of one release track (tracks may serve different model versions).
Called with a track context.
*/}}
{{- define "tf-serving.configMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "tf-serving.configMapName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "tf-serving.trackLabels" . | nindent 4 }}
data:
  models.config: |
    {{- include "tf-serving.modelsConfig" . | nindent 4 }}
  {{- if .Values.metrics.enabled }}
  monitoring.config: |
    {{- include "tf-serving.monitoringConfig" . | nindent 4 }}
  {{- end }}
{{- end }}
