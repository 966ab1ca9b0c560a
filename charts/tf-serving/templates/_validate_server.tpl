{{/*
Server and Service: the ports.
*/}}
{{- define "tf-serving.validate.server" -}}
{{- if eq (int .Values.server.grpcPort) (int .Values.server.restPort) }}
{{- fail (printf "tf-serving: server.grpcPort and server.restPort are both %d; gRPC and REST need different ports" (int .Values.server.grpcPort)) }}
{{- end }}
{{- if eq (int .Values.service.grpcPort) (int .Values.service.httpPort) }}
{{- fail (printf "tf-serving: service.grpcPort and service.httpPort are both %d; the API server refuses a Service with two ports on one number: give service.httpPort another one (default 8501)" (int .Values.service.httpPort)) }}
{{- end }}
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
  "enable_grpc_healthcheck_service" "probes.grpcHealthCheck.enabled" "per_process_gpu_memory_fraction" "gpu.perProcessGpuMemoryFraction" }}
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
{{- if and (hasKey $seen "use_alts_credentials") (hasKey $seen "ssl_config_file") }}
{{- fail (printf "tf-serving: %s has --use_alts_credentials and --ssl_config_file; the server refuses to start with both (\"Either use_alts_credentials must be false or ssl_config_file must be empty\"): keep one" $argsPath) }}
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
