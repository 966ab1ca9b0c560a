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
      appProtocol: grpc
    - name: http
      port: {{ .Values.service.httpPort }}
      targetPort: http
      protocol: TCP
      appProtocol: http
{{- end }}
