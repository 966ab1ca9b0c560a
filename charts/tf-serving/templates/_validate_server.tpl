{{/*
Server and Service: the ports, hot reload and file-system polling, the gRPC connection age, load
retries within the startup budget.
*/}}
{{- define "tf-serving.validate.server" -}}
{{- $s := .Values.server }}
{{- if eq (int $s.grpcPort) (int $s.restPort) }}
{{- fail (printf "tf-serving: server.grpcPort and server.restPort are both %d; gRPC and REST need different ports" (int $s.grpcPort)) }}
{{- end }}
{{- if eq (int .Values.service.grpcPort) (int .Values.service.httpPort) }}
{{- fail (printf "tf-serving: service.grpcPort and service.httpPort are both %d; the API server refuses a Service with two ports on one number: give service.httpPort another one (default 8501)" (int .Values.service.httpPort)) }}
{{- end }}
{{- /* FileSystemStoragePathSource (sources/storage_path/file_system_storage_path_source.cc) polls
once at start when the wait is 0, and a reload only changes what the next poll looks for. */}}
{{- if and (gt (int64 $s.modelConfigPollWaitSeconds) 0) (eq (int64 $s.fileSystemPollWaitSeconds) 0) }}
{{- fail (printf "tf-serving: server.fileSystemPollWaitSeconds is 0 but server.modelConfigPollWaitSeconds is %d (hot reload): with 0 the server looks for version folders once, at start, so a reloaded version policy would never be looked for; set server.fileSystemPollWaitSeconds above 0 (e.g. 30), or turn hot reload off" (int64 $s.modelConfigPollWaitSeconds)) }}
{{- end }}
{{- /* gRPC's max-age filter: GOAWAY after the age (jitter +-10%), then the grace; both default to
infinite. The server never sends GOAWAY otherwise, so both are needed for a bounded shutdown
(tf-serving.validate.pod checks the grace period against them). */}}
{{- $channel := $s.grpcChannelArguments | default dict }}
{{- range $key := list "grpc.max_connection_age_ms" "grpc.max_connection_age_grace_ms" }}
{{- $value := index $channel $key }}
{{- if not (regexMatch "^[1-9][0-9]*$" (include "tf-serving.integerText" $value)) }}
{{- fail (printf "tf-serving: server.grpcChannelArguments.%s must be a positive number of milliseconds, got %v: TF Serving closes no gRPC connection by itself, so without a finite connection age (GOAWAY, then its grace; gRPC's default for both is never) long-lived clients never reach new pods and the calls of a terminating pod's clients are cut at SIGKILL. Defaults: grpc.max_connection_age_ms 30000, grpc.max_connection_age_grace_ms 10000" $key (ternary "nothing" (toString $value) (kindIs "invalid" $value))) }}
{{- end }}
{{- end }}
{{- /* The initial load waits through every retry of a failed load (LoaderHarness::Load, core/loader_harness.cc). */}}
{{- $retrySeconds := div (mul (int64 $s.maxNumLoadRetries) (int64 $s.loadRetryIntervalMicros)) 1000000 }}
{{- if le (int64 .Values.probes.startup.budgetSeconds) $retrySeconds }}
{{- fail (printf "tf-serving: probes.startup.budgetSeconds (%d) must be greater than server.maxNumLoadRetries (%d) x server.loadRetryIntervalMicros (%d) = %d s: the initial load waits through the retries of a failed load, so the kubelet would restart the server before they could help; raise the budget or lower the retries or their interval" (int64 .Values.probes.startup.budgetSeconds) (int64 $s.maxNumLoadRetries) (int64 $s.loadRetryIntervalMicros) $retrySeconds) }}
{{- end }}
{{- end }}

{{/*
A number as decimal digits ("30000", also for a YAML float such as 3e+07), a string as it is, else
"": for checks of values that may be either.
*/}}
{{- define "tf-serving.integerText" -}}
{{- if kindIs "string" . }}{{ . }}{{ else if or (kindIs "float64" .) (kindIs "int" .) (kindIs "int64" .) }}{{ if eq (float64 .) (float64 (int64 .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}{{ end }}
{{- end }}

{{/*
server.extraArgs and server.extraEnv, per track (a track may override `server` and `image`):
refuse what the server ignores or refuses. tensorflow_model_server prints "unknown argument" for
a flag its main.cc does not declare and starts without it (model_servers/main.cc), reads
`--name=value` only (a bare `--name` works for true/false flags alone), lets the last of two equal
flags win, and ignores --model_name/--model_base_path next to --model_config_file (server.cc).
Per track: called from validate.yaml with (dict "root" $ "track" $track "ctx" $ctx).
*/}}
{{- define "tf-serving.validate.server.track" -}}
{{- $root := .root }}
{{- $track := .track }}
{{- $ctx := .ctx }}
{{- $owned := dict
  "port" "server.grpcPort" "rest_api_port" "server.restPort" "model_config_file" "models (and server.configMountPath)"
  "monitoring_config_file" "metrics.enabled / metrics.path" "model_config_file_poll_wait_seconds" "server.modelConfigPollWaitSeconds"
  "allow_version_labels_for_unavailable_models" "server.allowVersionLabelsForUnavailableModels"
  "file_system_poll_wait_seconds" "server.fileSystemPollWaitSeconds"
  "tensorflow_intra_op_parallelism" "server.tensorflowIntraOpParallelism" "tensorflow_inter_op_parallelism" "server.tensorflowInterOpParallelism"
  "rest_api_num_threads" "server.restApiNumThreads" "grpc_max_threads" "server.grpcMaxThreads" "rest_api_timeout_in_ms" "server.restApiTimeoutInMs"
  "grpc_channel_arguments" "server.grpcChannelArguments" "enable_model_warmup" "server.enableModelWarmup"
  "max_num_load_retries" "server.maxNumLoadRetries" "load_retry_interval_micros" "server.loadRetryIntervalMicros" "num_load_threads" "server.numLoadThreads"
  "enable_batching" "batching.enabled" "batching_parameters_file" "batching.* (the chart writes the file)" "enable_per_model_batching_parameters" "batching.perModelParameters"
  "enable_grpc_healthcheck_service" "probes.grpcHealthCheck.enabled" "per_process_gpu_memory_fraction" "gpu.perProcessGpuMemoryFraction"
  "enable_profiler" "server.enableProfiler" }}
{{- $argsPath := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "server.extraArgs") }}
{{- $known := include "tf-serving.knownServerFlags" $ctx | fromJsonArray }}
{{- $tag := include "tf-serving.imageTag" $ctx }}
{{- $seen := dict }}
{{- range $i, $arg := $ctx.Values.server.extraArgs }}
{{- $name := regexReplaceAll "^--([^=]*).*$" $arg "${1}" }}
{{- $where := printf "tf-serving: %s[%d] %q" $argsPath $i $arg }}
{{- if not (has $name $known) }}
{{- fail (printf "%s: tensorflow_model_server %s has no flag --%s (model_servers/main.cc); it would print \"unknown argument\" and start without it. Fix the name (see `tensorflow_model_server --help`) or use an image that has it" $where $tag $name) }}
{{- end }}
{{- if hasKey $owned $name }}
{{- fail (printf "%s: the chart already sets --%s (the last of two equal flags wins, so one would be ignored); set %s instead" $where $name (get $owned $name)) }}
{{- end }}
{{- if has $name (list "model_name" "model_base_path") }}
{{- fail (printf "%s: tensorflow_model_server ignores --%s next to the --model_config_file the chart passes; list the model in models ({name, basePath})" $where $name) }}
{{- end }}
{{- $value := regexReplaceAll "^--[^=]*=?" $arg "" }}
{{- if or (and (eq $name "ssl_config_file") $value) (and (eq $name "use_alts_credentials") (not (has (lower $value) (list "false" "0")))) }}
{{- fail (printf "%s: --%s makes the gRPC port speak %s (BuildServerCredentials, model_servers/server.cc), but the kubelet's gRPC probe, the Service's appProtocol (%s) and the Gateway API and Ingress backends speak plaintext gRPC, so the pods would never become Ready; terminate TLS at the Ingress or Gateway, or use a mesh's mTLS" $where $name (ternary "TLS" "ALTS" (eq $name "ssl_config_file")) ($ctx.Values.service.grpcAppProtocol | default "not set")) }}
{{- end }}
{{- if eq $name "version" }}
{{- fail (printf "%s: --version prints the version and exits, so the container would restart forever; run `docker run --entrypoint tensorflow_model_server %s --version` instead" $where (include "tf-serving.image" $ctx)) }}
{{- end }}
{{- if not (contains "=" $arg) }}
{{- fail (printf "%s: write --%s=VALUE (e.g. --%s=true); the chart takes --name=value only, because tensorflow_model_server ignores a bare --name (\"unknown argument\") for every flag that is not true/false" $where $name $name) }}
{{- end }}
{{- if hasKey $seen $name }}
{{- fail (printf "%s: --%s is also %s[%d]; the last one wins, so remove one" $where $name $argsPath (get $seen $name)) }}
{{- end }}
{{- $_ := set $seen $name $i }}
{{- end }}
{{- /* The chart's own flags: an image older than a flag the values turn on would ignore it. */}}
{{- range $arg := include "tf-serving.serverArgs" $ctx | fromYamlArray }}
{{- $name := regexReplaceAll "^--([^=]*).*$" $arg "${1}" }}
{{- if and (not (has $arg $ctx.Values.server.extraArgs)) (not (has $name $known)) }}
{{- fail (printf "tf-serving: %s %q: tensorflow_model_server %s has no flag --%s, which the chart renders from the values (model_servers/main.cc); it would print \"unknown argument\" and run without it. Use a newer image or turn off what needs it" (include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "image.tag")) $tag $tag $name) }}
{{- end }}
{{- end }}
{{- /* Combinations the server refuses at start or ignores (model_servers/server.cc). */}}
{{- $cores := include "tf-serving.cpuCores" $ctx | int64 }}
{{- $s := $ctx.Values.server }}
{{- if and (hasKey $seen "tensorflow_session_parallelism") (or $cores $s.tensorflowIntraOpParallelism $s.tensorflowInterOpParallelism) }}
{{- fail (printf "tf-serving: %s has --tensorflow_session_parallelism, but the chart sets intra- and inter-op parallelism (server.tensorflowIntraOpParallelism / server.tensorflowInterOpParallelism, derived from the CPU limit), so the server ignores it (or, with all three set, refuses to start); set those two values instead" $argsPath) }}
{{- end }}
{{- /* An object store is listed at every poll (PollFileSystemForServable lists each base path; on
GCS GetChildren returns every object below it): one billed request per model, pod and poll. */}}
{{- $poll := int64 $s.fileSystemPollWaitSeconds }}
{{- if and (gt $poll 0) (lt $poll 30) }}
{{- range $i, $m := $ctx.Values.models }}
{{- if or (hasPrefix "s3://" (toString $m.basePath)) (hasPrefix "gs://" (toString $m.basePath)) }}
{{- fail (printf "tf-serving: server.fileSystemPollWaitSeconds is %d but %s[%d].basePath %q is in an object store: the server lists every model's basePath at each poll (on GCS every object below it), a billed request per model, pod and poll; set server.fileSystemPollWaitSeconds to 30 or more (60 is common), or 0 to look once at start" $poll (include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "models")) $i $m.basePath) }}
{{- end }}
{{- end }}
{{- end }}
{{- $envPath := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "server.extraEnv") }}
{{- range $i, $env := $ctx.Values.server.extraEnv }}
{{- if has $env.name (list "MODEL_NAME" "MODEL_BASE_PATH") }}
{{- fail (printf "tf-serving: %s[%d] %s does nothing: only the image's entrypoint script reads it, and the chart runs tensorflow_model_server directly with --model_config_file; list the model in models ({name, basePath})" $envPath $i $env.name) }}
{{- end }}
{{- if hasPrefix "TF_SERVING_" $env.name }}
{{- fail (printf "tf-serving: %s[%d] %s does nothing: TF Serving reads its settings from flags, not TF_SERVING_* variables; batching is batching.*, the other settings are server.* (or a flag in server.extraArgs)" $envPath $i $env.name) }}
{{- end }}
{{- end }}
{{- end }}
