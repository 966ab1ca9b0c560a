{{/*
Server configuration: tuning flags, batching, the config files and their checksum.
All of these take a track context (tracks may override resources, so derived values are per track).
*/}}

{{/*
Whole CPU cores the server container may use: resources.limits.cpu, else resources.requests.cpu,
rounded up, at least 1 ("2", 2, "1500m" -> 2, 0.5 -> 1). 0 when neither is set: the derived
thread counts are then left to the binary (which sizes them to the node, not the container).
*/}}
{{- define "tf-serving.cpuCores" -}}
{{- $resources := .Values.resources | default dict }}
{{- $cpu := get ($resources.limits | default dict) "cpu" }}
{{- if not $cpu }}
{{- $cpu = get ($resources.requests | default dict) "cpu" }}
{{- end }}
{{- if not $cpu }}
{{- 0 }}
{{- else }}
{{- $quantity := toString $cpu }}
{{- if hasSuffix "m" $quantity }}
{{- max 1 (div (add (trimSuffix "m" $quantity | int64) 999) 1000) }}
{{- else }}
{{- max 1 (ceil (float64 $quantity) | int64) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Server flags from server.* and batching.*, one list item each, after the chart's fixed flags.
A value of 0 for a thread count means "derived from the CPU limit" (tf-serving.cpuCores).
*/}}
{{- define "tf-serving.serverTuningArgs" -}}
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
    "tensorflow_inter_op_parallelism" (list $s.tensorflowInterOpParallelism $cores)
    "rest_api_num_threads" (list $s.restApiNumThreads (mul 4 $cores))
    "grpc_max_threads" (list $s.grpcMaxThreads (mul 4 $cores)) }}
{{- range $flag := list "tensorflow_intra_op_parallelism" "tensorflow_inter_op_parallelism" "rest_api_num_threads" "grpc_max_threads" }}
{{- $pair := index $threads $flag }}
{{- $value := (index $pair 0) | default (index $pair 1) | int64 }}
{{- if gt $value 0 }}
- --{{ $flag }}={{ $value }}
{{- end }}
{{- end }}
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
{{- end }}

{{/*
batching.config: a text-format tensorflow.serving.BatchingParameters. Most fields are wrapper
messages (`{ value: N }`); allowed_batch_sizes and pad_variable_length_inputs are plain fields.
*/}}
{{- define "tf-serving.batchingConfig" -}}
{{- $b := .Values.batching }}
{{- $cores := include "tf-serving.cpuCores" . | int64 }}
{{- $threads := $b.numBatchThreads | default $cores | int64 }}
{{- $enqueued := $b.maxEnqueuedBatches | default $threads | int64 }}
max_batch_size { value: {{ $b.maxBatchSize | int64 }} }
batch_timeout_micros { value: {{ $b.batchTimeoutMicros | int64 }} }
{{- if gt $enqueued 0 }}
max_enqueued_batches { value: {{ $enqueued }} }
{{- end }}
{{- if gt $threads 0 }}
num_batch_threads { value: {{ $threads }} }
{{- end }}
{{- with $b.threadPoolName }}
thread_pool_name { value: {{ . | quote }} }
{{- end }}
{{- range $b.allowedBatchSizes }}
allowed_batch_sizes: {{ . | int64 }}
{{- end }}
pad_variable_length_inputs: {{ $b.padVariableLengthInputs }}
enable_large_batch_splitting { value: {{ $b.enableLargeBatchSplitting }} }
{{- if and $b.enableLargeBatchSplitting $b.maxExecutionBatchSize }}
max_execution_batch_size { value: {{ $b.maxExecutionBatchSize | int64 }} }
{{- end }}
{{- end }}

{{/*
The files of a track's config ConfigMap, as JSON {file name: content}. The ConfigMap and the
checksum annotation are both built from it, so the checksum covers exactly the data (except
readiness.sh, see tf-serving.configChecksum).
readiness.sh is frozen: pods of chart 0.2.0 and older run `/bin/bash <configMountPath>/readiness.sh`
as their readiness probe, and the kubelet removes a deleted key from their mounted directory within
a sync, which would make every old pod NotReady while the new ones are still loading. It stays,
byte for byte as 0.2.0 rendered it (files/readiness-0.2.0.sh; tests/unit/test_probes.py holds its
hash), until the chart no longer supports upgrading from 0.2.0. New pods never run it.
*/}}
{{- define "tf-serving.configFiles" -}}
{{- $files := dict "models.config" (include "tf-serving.modelsConfig" . | trim) }}
{{- $_ := set $files "readiness.sh" (.Files.Get "files/readiness-0.2.0.sh" | trim) }}
{{- if .Values.metrics.enabled }}
{{- $_ := set $files "monitoring.config" (include "tf-serving.monitoringConfig" . | trim) }}
{{- end }}
{{- if .Values.batching.enabled }}
{{- $_ := set $files "batching.config" (include "tf-serving.batchingConfig" . | trim) }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/*
Checksum of the config files the server reads once at start, for the pod template: a change rolls
the pods. With hot reload (server.modelConfigPollWaitSeconds > 0) models.config is left out, so
model list, version policy and label changes reach the running pods through the mounted volume
instead of a rollout; batching.config and monitoring.config are still read once, so they stay in.
Only file contents are hashed (no labels): a chart version bump alone does not roll the pods.
readiness.sh is never hashed: only old pods run it, and leaving it out keeps the checksum (and the
pods) unchanged when the key is finally removed.
*/}}
{{- define "tf-serving.configChecksum" -}}
{{- $files := include "tf-serving.configFiles" . | fromJson }}
{{- $_ := unset $files "readiness.sh" }}
{{- if gt (int64 .Values.server.modelConfigPollWaitSeconds) 0 }}
{{- $_ := unset $files "models.config" }}
{{- end }}
{{- $text := "" }}
{{- range $name := keys $files | sortAlpha }}
{{- $text = printf "%s%s\n%s\n" $text $name (index $files $name) }}
{{- end }}
{{- sha256sum $text }}
{{- end }}

{{/*
Labels of the pod template: the track's labels without helm.sh/chart, so upgrading the chart
without changing what runs does not roll the pods.
*/}}
{{- define "tf-serving.podTemplateLabels" -}}
{{- $labels := include "tf-serving.trackLabels" . | fromYaml }}
{{- $_ := unset $labels "helm.sh/chart" }}
{{- toYaml $labels }}
{{- end }}

{{/*
The flags the track's image knows, as a JSON list: the flags of tf-serving.serverFlagTable whose
release range covers the image tag's major.minor. A tag without a version (`nightly`) or newer than
the table counts as the newest release in it. Takes a track context.
*/}}
{{- define "tf-serving.knownServerFlags" -}}
{{- $newest := include "tf-serving.serverFlagsNewestTag" . | trim }}
{{- $version := regexFind "^[0-9]+[.][0-9]+" (include "tf-serving.imageTag" .) | default (regexFind "^[0-9]+[.][0-9]+" $newest) }}
{{- if semverCompare (printf ">%s.0" (regexFind "^[0-9]+[.][0-9]+" $newest)) (printf "%s.0" $version) }}
{{- $version = regexFind "^[0-9]+[.][0-9]+" $newest }}
{{- end }}
{{- $known := list }}
{{- range $flag, $tags := include "tf-serving.serverFlagTable" . | fromJson }}
{{- $first := regexFind "^[0-9]+[.][0-9]+" (index $tags 0) }}
{{- $last := regexFind "^[0-9]+[.][0-9]+" (index $tags 1) }}
{{- if semverCompare (printf ">=%s.0, <=%s.0" $first $last) (printf "%s.0" $version) }}
{{- $known = append $known $flag }}
{{- end }}
{{- end }}
{{- toJson $known }}
{{- end }}
