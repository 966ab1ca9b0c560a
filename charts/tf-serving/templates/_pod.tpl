{{/*
Pod-level pieces of the serving Deployment: probes, shutdown, storage, GPU, init containers.
Every helper takes a track context (so track overrides of models, resources, nodeSelector and
tolerations apply) and renders nothing when its feature is off.
*/}}

{{/*
Server flags owned by the pod: the gRPC health service and the GPU memory fraction.
Included from tf-serving.serverArgs.
*/}}
{{- define "tf-serving.podServerArgs" -}}
{{- if include "tf-serving.grpcHealthCheck" . }}
- --enable_grpc_healthcheck_service=true
{{- end }}
{{- if and .Values.gpu.enabled (ne (toString .Values.gpu.perProcessGpuMemoryFraction) "<nil>") }}
- --per_process_gpu_memory_fraction={{ .Values.gpu.perProcessGpuMemoryFraction }}
{{- end }}
{{- end }}

{{/*
Does this track use the gRPC health service? "true" or "". probes.grpcHealthCheck.enabled and an
image whose version has --enable_grpc_healthcheck_service (first in model_servers/main.cc at tag
2.15.1; tf-serving.knownServerFlags): older image tags get TCP checks instead.
*/}}
{{- define "tf-serving.grpcHealthCheck" -}}
{{- if and .Values.probes.grpcHealthCheck.enabled (has "enable_grpc_healthcheck_service" (include "tf-serving.knownServerFlags" . | fromJsonArray)) }}true{{ end }}
{{- end }}

{{/*
startupProbe, livenessProbe and readinessProbe of the server container, all kubelet-native: no
probe sends an HTTP request, so TF Serving's REST metrics (every /v1/ request is counted) carry
client traffic only.
Server::BuildAndStart (model_servers/server.cc) returns only after the initial models are loaded
(ServerCore::Create; a failed load makes the binary exit), then starts gRPC with the health service
SERVING, then REST last. So the startup probe checks the REST port: it covers the one window where
gRPC health says SERVING but the pod cannot serve REST yet (and a REST server that failed to start,
which the binary only logs). Readiness and liveness then ask the gRPC health service (2.15+), or
check the gRPC port on older images. A model added later by hot reload is not gated (README, Probes).
*/}}
{{- define "tf-serving.probes" -}}
{{- $p := .Values.probes }}
{{- $serving := dict "tcpSocket" (dict "port" "grpc") }}
{{- if include "tf-serving.grpcHealthCheck" . }}
{{- $serving = dict "grpc" (dict "port" (int .Values.server.grpcPort)) }}
{{- end }}
{{- $period := int $p.startup.periodSeconds }}
startupProbe:
  tcpSocket:
    port: http
  # budgetSeconds {{ $p.startup.budgetSeconds }} = periodSeconds x failureThreshold (rounded up)
  periodSeconds: {{ $period }}
  timeoutSeconds: {{ $p.startup.timeoutSeconds }}
  failureThreshold: {{ div (add (int $p.startup.budgetSeconds) (sub $period 1)) $period }}
livenessProbe:
  {{- toYaml $serving | nindent 2 }}
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
readinessProbe:
  {{- toYaml $serving | nindent 2 }}
  periodSeconds: {{ $p.readiness.periodSeconds }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
  successThreshold: 1
{{- end }}

{{/*
preStop pause: the Pod is removed from Service endpoints while it sleeps, then the grace period
runs out (TF Serving ignores SIGTERM as PID 1). The `sleep` lifecycle action needs no binary in
the image; it is on by default from Kubernetes 1.30 (alpha, off, in 1.29), so 1.29 gets an exec sleep.
*/}}
{{- define "tf-serving.lifecycle" -}}
{{- $seconds := int .Values.shutdown.preStopSleepSeconds }}
{{- if gt $seconds 0 }}
lifecycle:
  preStop:
    {{- if semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version }}
    sleep:
      seconds: {{ $seconds }}
    {{- else }}
    exec:
      command: ["sleep", "{{ $seconds }}"]
    {{- end }}
{{- end }}
{{- end }}

{{/*
Image reference of an image values object {repository, tag, digest}; a digest wins.
*/}}
{{- define "tf-serving.imageRef" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (.tag | default "latest") }}
{{- end }}
{{- end }}

{{/*
Is modelStorage.source one that mounts a local volume at modelStorage.mountPath? "true" or "".
*/}}
{{- define "tf-serving.modelStorageIsLocal" -}}
{{- if has .Values.modelStorage.source (list "existingClaim" "pvc" "nfs" "initContainer" "image") }}true{{ end }}
{{- end }}

{{/*
Name of the PersistentVolumeClaim the chart creates (modelStorage.source=pvc). One per release,
shared by every track.
*/}}
{{- define "tf-serving.modelsClaimName" -}}
{{- printf "%s-models" (include "tf-serving.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The `models` volume for local sources (list items).
*/}}
{{- define "tf-serving.modelStorageVolumes" -}}
{{- $s := .Values.modelStorage }}
{{- if eq $s.source "existingClaim" }}
- name: models
  persistentVolumeClaim:
    claimName: {{ $s.existingClaim.claimName }}
    readOnly: true
{{- else if eq $s.source "pvc" }}
- name: models
  persistentVolumeClaim:
    claimName: {{ include "tf-serving.modelsClaimName" . }}
    readOnly: true
{{- else if eq $s.source "nfs" }}
- name: models
  nfs:
    server: {{ $s.nfs.server }}
    path: {{ $s.nfs.path }}
    readOnly: true
{{- else if eq $s.source "initContainer" }}
- name: models
  emptyDir:
    {{- with $s.initContainer.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
- name: models-download-tmp
  emptyDir: {}
{{- else if eq $s.source "image" }}
- name: models
  image:
    reference: {{ $s.image.reference }}
    pullPolicy: {{ $s.image.pullPolicy }}
{{- end }}
{{- if and (eq $s.source "gcs") $s.gcs.existingSecret }}
- name: gcs-credentials
  secret:
    secretName: {{ $s.gcs.existingSecret }}
    items:
      - key: {{ $s.gcs.secretKey }}
        path: credentials.json
{{- end }}
{{- end }}

{{/*
Volume mounts of the server container for model storage (list items).
*/}}
{{- define "tf-serving.modelStorageMounts" -}}
{{- $s := .Values.modelStorage }}
{{- if include "tf-serving.modelStorageIsLocal" . }}
- name: models
  mountPath: {{ $s.mountPath }}
  readOnly: true
  {{- if and (eq $s.source "existingClaim") $s.existingClaim.subPath }}
  subPath: {{ $s.existingClaim.subPath }}
  {{- end }}
{{- end }}
{{- if and (eq $s.source "gcs") $s.gcs.existingSecret }}
- name: gcs-credentials
  mountPath: /var/run/secrets/tf-serving/gcs
  readOnly: true
{{- end }}
{{- end }}

{{/*
Environment of the server container: object-store credentials for the server's own S3/GCS file
systems, then server.extraEnv (list items).
*/}}
{{- define "tf-serving.serverEnv" -}}
{{- $s := .Values.modelStorage }}
{{- if eq $s.source "s3" }}
{{- with $s.s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $s.s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $s.s3.secretAccessKeyKey }}
{{- end }}
{{- with $s.s3.region }}
- name: AWS_REGION
  value: {{ . | quote }}
{{- end }}
{{- with $s.s3.endpoint }}
- name: S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: S3_USE_HTTPS
  value: {{ ternary "1" "0" $s.s3.useHttps | quote }}
- name: S3_VERIFY_SSL
  value: {{ ternary "1" "0" $s.s3.verifySsl | quote }}
{{- else if and (eq $s.source "gcs") $s.gcs.existingSecret }}
- name: GOOGLE_APPLICATION_CREDENTIALS
  value: /var/run/secrets/tf-serving/gcs/credentials.json
{{- end }}
{{- with .Values.server.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Init container that downloads the models into the `models` emptyDir (modelStorage.source=initContainer).
It gets the same restricted security context as the server.
*/}}
{{- define "tf-serving.initContainers" -}}
{{- $s := .Values.modelStorage }}
{{- if eq $s.source "initContainer" }}
{{- $i := $s.initContainer }}
- name: download-models
  image: {{ include "tf-serving.imageRef" $i.image | quote }}
  imagePullPolicy: {{ $i.image.pullPolicy }}
  {{- with $i.command }}
  command:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $i.args }}
  args:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  env:
    - name: MODELS_DIR
      value: {{ $s.mountPath | quote }}
    # Writable home for tools that keep caches (aws, gsutil) under a read-only root filesystem.
    - name: HOME
      value: /tmp
    {{- with $i.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $i.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: models
      mountPath: {{ $s.mountPath }}
    - name: models-download-tmp
      mountPath: /tmp
{{- end }}
{{- end }}

{{/*
Resources of the server container: resources, plus the GPU limit when gpu.enabled
(extended resources are requested through limits; requests default to them).
*/}}
{{- define "tf-serving.resources" -}}
{{- $resources := deepCopy (.Values.resources | default dict) }}
{{- if .Values.gpu.enabled }}
{{- $limits := get $resources "limits" | default dict }}
{{- $_ := set $limits .Values.gpu.resourceName (int .Values.gpu.count) }}
{{- $_ := set $resources "limits" $limits }}
{{- end }}
{{- with $resources }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
Node selector and tolerations: the track's values plus the GPU defaults when gpu.enabled.
*/}}
{{- define "tf-serving.nodeSelector" -}}
{{- $selector := deepCopy (.Values.nodeSelector | default dict) }}
{{- if .Values.gpu.enabled }}
{{- $selector = merge $selector (deepCopy (.Values.gpu.nodeSelector | default dict)) }}
{{- end }}
{{- with $selector }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{- define "tf-serving.tolerations" -}}
{{- $tolerations := .Values.tolerations | default list }}
{{- if .Values.gpu.enabled }}
{{- $tolerations = concat $tolerations (.Values.gpu.tolerations | default list) }}
{{- end }}
{{- with $tolerations }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
Deployment progress deadline: rollingUpdate.progressDeadlineSeconds, else long enough for a new
pod to use its whole startup budget (a slow model load is not a failed rollout).
*/}}
{{- define "tf-serving.progressDeadlineSeconds" -}}
{{- if .Values.rollingUpdate.progressDeadlineSeconds }}
{{- .Values.rollingUpdate.progressDeadlineSeconds }}
{{- else }}
{{- max 600 (add (int .Values.probes.startup.budgetSeconds) (int .Values.rollingUpdate.minReadySeconds) 120) }}
{{- end }}
{{- end }}
