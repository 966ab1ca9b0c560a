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
  # Surge first, never below the wanted count: old pods serve until new ones are Ready.
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: {{ .Values.rollingUpdate.maxSurge }}
  minReadySeconds: {{ .Values.rollingUpdate.minReadySeconds }}
  progressDeadlineSeconds: {{ include "tf-serving.progressDeadlineSeconds" . }}
  template:
    metadata:
      labels:
        {{- include "tf-serving.podTemplateLabels" . | nindent 8 }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # Config files read once at start (models.config too unless hot reload is on): a change rolls the pods.
        checksum/config: {{ include "tf-serving.configChecksum" . }}
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
      # TF Serving ignores SIGTERM as PID 1: after the preStop pause it serves until this runs out.
      terminationGracePeriodSeconds: {{ .Values.shutdown.terminationGracePeriodSeconds }}
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with include "tf-serving.initContainers" . | trim }}
      initContainers:
        {{- . | nindent 8 }}
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
          {{- with include "tf-serving.serverEnv" . | trim }}
          env:
            {{- . | nindent 12 }}
          {{- end }}
          # The server opens its ports only after the initial models have loaded.
          {{- with include "tf-serving.probes" . | trim }}
          {{- . | nindent 10 }}
          {{- end }}
          {{- with include "tf-serving.lifecycle" . | trim }}
          {{- . | nindent 10 }}
          {{- end }}
          {{- with .Values.securityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          {{- with include "tf-serving.resources" . | trim }}
          resources:
            {{- . | nindent 12 }}
          {{- end }}
          volumeMounts:
            - name: config
              mountPath: {{ .Values.server.configMountPath }}
              readOnly: true
            - name: tmp
              mountPath: /tmp
            {{- with include "tf-serving.modelStorageMounts" . | trim }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        # Whole-directory mount (never subPath) so ConfigMap updates reach the pod.
        - name: config
          configMap:
            name: {{ include "tf-serving.configMapName" . }}
        - name: tmp
          emptyDir: {}
        {{- with include "tf-serving.modelStorageVolumes" . | trim }}
        {{- . | nindent 8 }}
        {{- end }}
      {{- with include "tf-serving.nodeSelector" . | trim }}
      nodeSelector:
        {{- . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with include "tf-serving.tolerations" . | trim }}
      tolerations:
        {{- . | nindent 8 }}
      {{- end }}
      {{- with include "tf-serving.podScheduling" . | trim }}{{ . | nindent 6 }}{{ end }}
{{- end }}
