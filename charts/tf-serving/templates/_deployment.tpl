{{/*
The Deployment of one release track. Called with a track context (tf-serving.trackContext).
*/}}
{{- define "tf-serving.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .TrackFullname }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "tf-serving.trackLabels" . | nindent 4 }}
spec:
  {{- if not (include "tf-serving.autoscaled" .) }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "tf-serving.trackSelectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "tf-serving.trackLabels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # models.config is read once at start: roll the pods when it changes.
        checksum/config: {{ include "tf-serving.modelsConfig" . | sha256sum }}
        {{- if and .Values.metrics.enabled .Values.monitoring.scrapeAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ .Values.server.restPort | quote }}
        prometheus.io/path: {{ .Values.metrics.path | quote }}
        {{- end }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "tf-serving.serviceAccountName" . }}
      automountServiceAccountToken: false
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: tf-serving
          image: {{ include "tf-serving.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          # The binary itself as PID 1: the image's bash entrypoint reads only MODEL_NAME and
          # MODEL_BASE_PATH and does not exec.
          command:
            - tensorflow_model_server
          args:
            {{- include "tf-serving.serverArgs" . | nindent 12 }}
          ports:
            - name: grpc
              containerPort: {{ .Values.server.grpcPort }}
              protocol: TCP
            - name: http
              containerPort: {{ .Values.server.restPort }}
              protocol: TCP
          {{- with .Values.server.extraEnv }}
          env:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          # The server opens its ports only after the initial models have loaded.
          startupProbe:
            tcpSocket:
              port: grpc
            periodSeconds: 10
            failureThreshold: 30
          livenessProbe:
            tcpSocket:
              port: grpc
            periodSeconds: 10
            failureThreshold: 3
          readinessProbe:
            tcpSocket:
              port: http
            periodSeconds: 5
            failureThreshold: 3
          {{- with .Values.securityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            - name: config
              mountPath: {{ .Values.server.configMountPath }}
              readOnly: true
            - name: tmp
              mountPath: /tmp
      volumes:
        # Whole-directory mount (never subPath) so ConfigMap updates reach the pod.
        - name: config
          configMap:
            name: {{ include "tf-serving.configMapName" . }}
        - name: tmp
          emptyDir: {}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
