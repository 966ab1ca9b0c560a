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
  {{- range $name, $content := include "tf-serving.configFiles" . | fromJson }}
  {{ $name }}: |
    {{- $content | nindent 4 }}
  {{- end }}
{{- end }}
