{{/*
The server container of one track: image, every command-line flag (tf-serving.serverArgs), env,
probes, lifecycle, resources and mounts. All take a track context.
*/}}

{{/*
Image tag: image.tag, else the chart's appVersion (with `-gpu` when gpu.enabled).
*/}}
{{- define "tf-serving.imageTag" -}}
{{- if .Values.image.tag }}
{{- .Values.image.tag }}
{{- else if .Values.gpu.enabled }}
{{- printf "%s-gpu" .Chart.AppVersion }}
{{- else }}
{{- .Chart.AppVersion }}
{{- end }}
{{- end }}

{{/*
Image reference: a digest wins over the tag, so a pinned digest is what actually runs.
*/}}
{{- define "tf-serving.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "tf-serving.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
Whole CPU cores the server container may use: resources.limits.cpu, else resources.requests.cpu,
rounded up, at least 1 ("2", 2, "1500m" -> 2, 0.5 -> 1). 0 when neither is set: the derived
thread counts are then left to the binary (which sizes them to the node, not the container).
*/}}
{{- define "tf-serving.cpuCores" -}}
{{- /* Memoised for the track: the config, the container's flags and the checks all ask. */}}
{{- if not (hasKey .TrackMemo "CpuCores") }}
{{- $_ := set .TrackMemo "CpuCores" (include "tf-serving.cpuCoresOnce" .) }}
{{- end }}
{{- .TrackMemo.CpuCores }}
{{- end }}

{{- define "tf-serving.cpuCoresOnce" -}}
{{- $resources := .Values.resources | default dict }}
{{- $key := "limits" }}
{{- $cpu := index ($resources.limits | default dict) "cpu" }}
{{- if kindIs "invalid" $cpu }}
{{- $key = "requests" }}
{{- $cpu = index ($resources.requests | default dict) "cpu" }}
{{- end }}
{{- if kindIs "invalid" $cpu }}
{{- 0 }}
{{- else }}
{{- $path := printf "%s.%s.cpu" (include "tf-serving.trackValuePath" (dict "root" .Root "track" .Track "key" "resources")) $key }}
{{- $milli := include "tf-serving.quantityMilli" (dict "quantity" $cpu "path" $path) | float64 }}
{{- max 1 (ceil (divf $milli 1000) | int64) }}
{{- end }}
{{- end }}

{{/*
A Kubernetes quantity in thousandths of its unit, as a number in text (read it with `float64`):
(dict "quantity" "1500m" "path" "resources.limits.cpu") -> 1500; "2" -> 2000, "2Gi" ->
2147483648000, "1e3" -> 1000000, 0.5 -> 500. The grammar is resource.Quantity's: a decimal
number, then a binary (Ki..Ei), decimal (n u m k M G T P E) or integer-exponent (e3) suffix. The
digits are read as one integer and scaled by one division at most, so the order of two quantities
is kept (3000Mi > 2Gi, 1Gi = 1024Mi) up to float64's 15 significant digits. Other text fails the
render naming `path`: the API server would refuse it.
*/}}
{{- define "tf-serving.quantityMilli" -}}
{{- $text := toString .quantity | trim }}
{{- $grammar := "^([+-]?)([0-9]*)[.]?([0-9]*)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$" }}
{{- if or (not (regexMatch $grammar $text)) (not (regexMatch "^[+-]?[.]?[0-9]" $text)) }}
{{- fail (printf "tf-serving: %s %q is not a Kubernetes quantity; write a number with an optional suffix, e.g. 500m or 2 for CPU, 512Mi or 2Gi for memory (binary Ki Mi Gi Ti Pi Ei, decimal k M G T P E, or an exponent such as 1e3)" .path $text) }}
{{- end }}
{{- /* The four groups at once (none holds a space): the grammar compiles once more, not four times. */}}
{{- $groups := regexReplaceAll $grammar $text "${1} ${2} ${3} ${4}" | splitList " " }}
{{- $whole := index $groups 1 }}
{{- $fraction := index $groups 2 }}
{{- $suffix := index $groups 3 }}
{{- $binary := dict "Ki" 10 "Mi" 20 "Gi" 30 "Ti" 40 "Pi" 50 "Ei" 60 }}
{{- $decimal := dict "" 0 "n" -9 "u" -6 "m" -3 "k" 3 "M" 6 "G" 9 "T" 12 "P" 15 "E" 18 }}
{{- $twos := 0 }}
{{- $tens := 0 }}
{{- if hasKey $binary $suffix }}
{{- $twos = get $binary $suffix }}
{{- else if hasKey $decimal $suffix }}
{{- $tens = get $decimal $suffix }}
{{- else }}
{{- /* Without leading zeros: `int` would read "e010" as octal. */}}
{{- $tens = regexReplaceAll "^[eE][+-]?0*([0-9])" $suffix "${1}" | int }}
{{- if regexMatch "^[eE]-" $suffix }}
{{- $tens = mul -1 $tens }}
{{- end }}
{{- end }}
{{- /* value = digits x 2^twos x 10^(tens + 3 - fraction digits), in thousandths */}}
{{- $tens = sub (add $tens 3) (len $fraction) | int }}
{{- $value := float64 (printf "%s%s" $whole $fraction) }}
{{- range until $twos }}
{{- $value = mulf $value 2 }}
{{- end }}
{{- range until (max $tens 0 | int) }}
{{- $value = mulf $value 10 }}
{{- end }}
{{- $divisor := 1.0 }}
{{- range until (max (mul -1 $tens) 0 | int) }}
{{- $divisor = mulf $divisor 10 }}
{{- end }}
{{- $value = divf $value $divisor }}
{{- if eq (index $groups 0) "-" }}
{{- $value = mulf $value -1 }}
{{- end }}
{{- $value | toString }}
{{- end }}

{{/*
Resources of the server container, as JSON: resources, plus the GPU limit when gpu.enabled
(extended resources are requested through limits; requests default to them).
*/}}
{{- define "tf-serving.containerResources" -}}
{{- $resources := deepCopy (.Values.resources | default dict) }}
{{- if .Values.gpu.enabled }}
{{- $limits := get $resources "limits" | default dict }}
{{- $_ := set $limits .Values.gpu.resourceName (int .Values.gpu.count) }}
{{- $_ := set $resources "limits" $limits }}
{{- end }}
{{- toJson $resources }}
{{- end }}

{{/*
Every command-line flag of the server, one per list item: the chart's fixed flags, then server.*,
batching.*, probes and GPU, then server.extraArgs. Only flags the binary knows (the generated
tf-serving.serverFlagTable at the end of this file): an unknown flag is ignored with "unknown
argument". The TensorFlow op pools (0 = derived from the CPU limit, tf-serving.cpuCores) compute on
the cores; the REST and gRPC threads mostly wait for TensorFlow, so their counts are values of their
own: gRPC refuses a call beyond its thread cap, and the REST pool also serves the metrics scrape.
*/}}
{{- define "tf-serving.serverArgs" -}}
- --port={{ .Values.server.grpcPort }}
- --rest_api_port={{ .Values.server.restPort }}
- --model_config_file={{ include "tf-serving.modelConfigPath" . }}
{{- if .Values.metrics.enabled }}
- --monitoring_config_file={{ trimSuffix "/" .Values.server.configMountPath }}/monitoring.config
{{- end }}
{{- $s := .Values.server }}
{{- $cores := include "tf-serving.cpuCores" . | int64 }}
{{- if gt (int64 $s.modelConfigPollWaitSeconds) 0 }}
- --model_config_file_poll_wait_seconds={{ $s.modelConfigPollWaitSeconds | int64 }}
{{- end }}
{{- if $s.allowVersionLabelsForUnavailableModels }}
- --allow_version_labels_for_unavailable_models=true
{{- end }}
- --file_system_poll_wait_seconds={{ $s.fileSystemPollWaitSeconds | int64 }}
{{- $threads := dict
    "tensorflow_intra_op_parallelism" (list $s.tensorflowIntraOpParallelism $cores)
    "tensorflow_inter_op_parallelism" (list $s.tensorflowInterOpParallelism $cores) }}
{{- range $flag := list "tensorflow_intra_op_parallelism" "tensorflow_inter_op_parallelism" }}
{{- $pair := index $threads $flag }}
{{- $value := (index $pair 0) | default (index $pair 1) | int64 }}
{{- if gt $value 0 }}
- --{{ $flag }}={{ $value }}
{{- end }}
{{- end }}
- --rest_api_num_threads={{ $s.restApiNumThreads | int64 }}
- --grpc_max_threads={{ $s.grpcMaxThreads | int64 }}
- --enable_profiler={{ $s.enableProfiler }}
- --rest_api_timeout_in_ms={{ $s.restApiTimeoutInMs | int64 }}
{{- with $s.grpcChannelArguments }}
{{- $pairs := list }}
{{- range $key := keys . | sortAlpha }}
{{- $value := index $.Values.server.grpcChannelArguments $key }}
{{- if kindIs "string" $value }}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) }}
{{- else }}
{{- $pairs = append $pairs (printf "%s=%d" $key ($value | int64)) }}
{{- end }}
{{- end }}
- --grpc_channel_arguments={{ join "," $pairs }}
{{- end }}
- --enable_model_warmup={{ $s.enableModelWarmup }}
- --max_num_load_retries={{ $s.maxNumLoadRetries | int64 }}
- --load_retry_interval_micros={{ $s.loadRetryIntervalMicros | int64 }}
- --num_load_threads={{ $s.numLoadThreads | int64 }}
{{- if .Values.batching.enabled }}
- --enable_batching=true
- --batching_parameters_file={{ trimSuffix "/" $s.configMountPath }}/batching.config
{{- if .Values.batching.perModelParameters }}
- --enable_per_model_batching_parameters=true
{{- end }}
{{- end }}
{{- if include "tf-serving.grpcHealthCheck" . }}
- --enable_grpc_healthcheck_service=true
{{- end }}
{{- if and .Values.gpu.enabled (ne (toString .Values.gpu.perProcessGpuMemoryFraction) "<nil>") }}
- --per_process_gpu_memory_fraction={{ .Values.gpu.perProcessGpuMemoryFraction }}
{{- end }}
{{- range .Values.server.extraArgs }}
- {{ . | quote }}
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
The flags the track's image knows, as a JSON list: the flags of tf-serving.serverFlagTable whose
release range covers the image tag's major.minor. A tag without a version (`nightly`) or newer than
the table counts as the newest release in it. Takes a track context.
*/}}
{{- define "tf-serving.knownServerFlags" -}}
{{- /* Memoised for the track: the container, its probes and the checks all ask. */}}
{{- if not (hasKey .TrackMemo "KnownServerFlags") }}
{{- $newest := include "tf-serving.serverFlagsNewestTag" . | trim }}
{{- $version := regexFind "^[0-9]+[.][0-9]+" (include "tf-serving.imageTag" .) | default (regexFind "^[0-9]+[.][0-9]+" $newest) }}
{{- if semverCompare (printf ">%s.0" (regexFind "^[0-9]+[.][0-9]+" $newest)) (printf "%s.0" $version) }}
{{- $version = regexFind "^[0-9]+[.][0-9]+" $newest }}
{{- end }}
{{- $known := list }}
{{- /* Each release range once: 51 flags share 22 ranges (a regex and a constraint compiled per range). */}}
{{- $verdicts := dict }}
{{- range $flag, $tags := include "tf-serving.serverFlagTable" . | fromJson }}
{{- $range := join " " $tags }}
{{- if not (hasKey $verdicts $range) }}
{{- $first := regexFind "^[0-9]+[.][0-9]+" (index $tags 0) }}
{{- $last := regexFind "^[0-9]+[.][0-9]+" (index $tags 1) }}
{{- $_ := set $verdicts $range (semverCompare (printf ">=%s.0, <=%s.0" $first $last) (printf "%s.0" $version)) }}
{{- end }}
{{- if get $verdicts $range }}
{{- $known = append $known $flag }}
{{- end }}
{{- end }}
{{- $_ := set .TrackMemo "KnownServerFlags" (toJson $known) }}
{{- end }}
{{- .TrackMemo.KnownServerFlags }}
{{- end }}

{{/*
The server container of one track (a `containers` list item).
Probes are all kubelet-native: no probe sends an HTTP request, so TF Serving's REST metrics (every
/v1/ request is counted) carry client traffic only. Server::BuildAndStart (model_servers/server.cc)
returns only after the initial models are loaded (ServerCore::Create; a failed load makes the binary
exit), then starts gRPC with the health service SERVING, then REST last. So the startup probe checks
the REST port: it covers the one window where gRPC health says SERVING but the pod cannot serve REST
yet (and a REST server that failed to start, which the binary only logs). Readiness and liveness
then ask the gRPC health service (2.15+), or check the gRPC port on older images. A version loaded
later (a new folder, a hot-reloaded policy) is not gated (README, Probes).
The preStop pause: the Pod is removed from Service endpoints while it sleeps, then the grace period
runs out (TF Serving ignores SIGTERM as PID 1). The `sleep` lifecycle action needs no binary in the
image; it is on by default from Kubernetes 1.30 (alpha, off, in 1.29), so 1.29 gets an exec sleep.
Resources: tf-serving.containerResources (the GPU limit is added when gpu.enabled).
*/}}
{{- define "tf-serving.container" -}}
{{- $s := .Values.modelStorage -}}
- name: tf-serving
  image: {{ include "tf-serving.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  # The binary itself as PID 1: the image's bash entrypoint reads only MODEL_NAME and
  # MODEL_BASE_PATH and does not exec.
  command:
    - tensorflow_model_server
  args:
    {{- include "tf-serving.serverArgs" . | nindent 4 }}
  ports:
    - name: grpc
      containerPort: {{ .Values.server.grpcPort }}
      protocol: TCP
    - name: http
      containerPort: {{ .Values.server.restPort }}
      protocol: TCP
  {{- $ownEnv := list }}
  {{- range .Values.server.extraEnv }}
  {{- $ownEnv = append $ownEnv .name }}
  {{- end }}
  {{- if or (eq $s.source "s3") (and (eq $s.source "gcs") $s.gcs.existingSecret) .Values.server.extraEnv .Values.gpu.enabled }}
  env:
    {{- if eq $s.source "s3" }}
    {{- /* Credentials for the server's own S3 file system. */}}
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
    {{- if and .Values.gpu.enabled (not (has "CUDA_CACHE_PATH" $ownEnv)) }}
    {{- /* The CUDA driver keeps the kernels it JIT-compiles for this GPU under $HOME/.nv, on the
    read-only root here, so every start would compile them again: the /tmp emptyDir keeps them for
    the pod's life (container restarts included), bounded well inside its 1Gi limit. */}}
    - name: CUDA_CACHE_PATH
      value: /tmp/cuda-cache
    {{- if not (has "CUDA_CACHE_MAXSIZE" $ownEnv) }}
    - name: CUDA_CACHE_MAXSIZE
      value: "268435456"
    {{- end }}
    {{- end }}
    {{- with .Values.server.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  # The server opens its ports only after the initial models have loaded.
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
    {{- toYaml $serving | nindent 4 }}
    periodSeconds: {{ $p.liveness.periodSeconds }}
    timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
    failureThreshold: {{ $p.liveness.failureThreshold }}
  readinessProbe:
    {{- toYaml $serving | nindent 4 }}
    periodSeconds: {{ $p.readiness.periodSeconds }}
    timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
    failureThreshold: {{ $p.readiness.failureThreshold }}
    successThreshold: 1
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
  {{- with .Values.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with include "tf-serving.containerResources" . | fromJson }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: config
      mountPath: {{ .Values.server.configMountPath }}
      readOnly: true
    - name: tmp
      mountPath: /tmp
    {{- with include "tf-serving.modelStorageMounts" . | trim }}
    {{- . | nindent 4 }}
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
Generated by scripts/gen_server_flags.py from tfserving_harness/tfs_flags.py (to the end of this file): do not edit.
The flags model_servers/main.cc declares, as {flag: [first release tag, last release tag]},
read from every tensorflow/serving release tag up to 2.20.0.
*/}}
{{- define "tf-serving.serverFlagTable" -}}
{"allow_version_labels_for_unavailable_models":["1.15.0","2.20.0"],"batching_parameters_file":["0.6.0","2.20.0"],"enable_batching":["0.5.0","2.20.0"],"enable_grpc_healthcheck_service":["2.15.1","2.20.0"],"enable_model_warmup":["1.9.0","2.20.0"],"enable_per_model_batching_parameters":["2.11.0","2.20.0"],"enable_profiler":["2.5.1","2.20.0"],"enable_serialization_as_tensor_content":["2.19.0","2.20.0"],"enable_signature_method_name_check":["2.4.0","2.20.0"],"file_system_poll_wait_seconds":["0.5.0","2.20.0"],"flush_filesystem_caches":["1.6.0","2.20.0"],"grpc_channel_arguments":["1.6.0","2.20.0"],"grpc_max_threads":["2.5.1","2.20.0"],"grpc_socket_path":["1.13.0","2.20.0"],"load_retry_interval_micros":["1.11.0","2.20.0"],"max_num_load_retries":["1.11.0","2.20.0"],"mixed_precision":["2.15.1","2.20.0"],"model_base_path":["0.5.0","2.20.0"],"model_config_file":["0.5.1","2.20.0"],"model_config_file_poll_wait_seconds":["1.15.0","2.20.0"],"model_name":["0.5.0","2.20.0"],"model_version_policy":["0.5.0","0.6.0"],"monitoring_config_file":["1.11.0","2.20.0"],"num_load_threads":["2.5.1","2.20.0"],"num_request_iterations_for_warmup":["2.8.0","2.20.0"],"num_tflite_interpreters_per_pool":["2.5.1","2.20.0"],"num_tflite_pools":["2.5.1","2.20.0"],"num_unload_threads":["2.5.1","2.20.0"],"per_process_gpu_memory_fraction":["1.5.0","2.20.0"],"platform_config_file":["0.5.0","2.20.0"],"port":["0.5.0","2.20.0"],"prefer_tflite_model":["2.3.0","2.20.0"],"remove_unused_fields_from_bundle_metagraph":["1.15.0","2.20.0"],"rest_api_enable_cors_support":["2.5.1","2.20.0"],"rest_api_num_threads":["1.8.0","2.20.0"],"rest_api_port":["1.8.0","2.20.0"],"rest_api_timeout_in_ms":["1.8.0","2.20.0"],"saved_model_tags":["1.6.0","2.20.0"],"skip_initialize_tpu":["2.15.1","2.20.0"],"ssl_config_file":["1.10.0","2.20.0"],"tensorflow_inter_op_parallelism":["1.13.0","2.20.0"],"tensorflow_intra_op_parallelism":["1.13.0","2.20.0"],"tensorflow_session_config_file":["2.8.0","2.20.0"],"tensorflow_session_parallelism":["0.5.0","2.20.0"],"thread_pool_factory_config_file":["2.6.0","2.20.0"],"use_alts_credentials":["2.6.0","2.20.0"],"use_saved_model":["0.5.0","0.6.0"],"use_tflite_model":["1.15.0","2.2.3"],"version":["1.10.0","2.20.0"],"xla_cpu_compilation_enabled":["2.5.1","2.20.0"],"xla_gpu_compilation_enabled":["2.18.0","2.20.0"]}
{{- end }}
{{- define "tf-serving.serverFlagsNewestTag" -}}
2.20.0
{{- end }}
