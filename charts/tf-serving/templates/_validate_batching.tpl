{{/*
Batching: what TF Serving refuses or ignores in batching.* (the release's `server` and `batching`).
*/}}
{{- define "tf-serving.validate.batching" -}}
{{- $b := .Values.batching }}
{{- if and $b.perModelParameters (not $b.enabled) }}
{{- fail "tf-serving: batching.perModelParameters needs batching.enabled=true (TF Serving applies per-model batching parameters only with --enable_batching); enable batching or set batching.perModelParameters=false" }}
{{- end }}
{{- if $b.enabled }}
{{- range .Values.server.extraArgs }}
{{- if hasPrefix "--platform_config_file" . }}
{{- fail "tf-serving: batching.enabled=true has no effect with --platform_config_file in server.extraArgs (TF Serving ignores --enable_batching then); configure batching in the platform config and set batching.enabled=false" }}
{{- end }}
{{- end }}
{{- $max := int64 $b.maxBatchSize }}
{{- $execution := int64 ($b.maxExecutionBatchSize | default 0) }}
{{- if and $execution (not $b.enableLargeBatchSplitting) }}
{{- fail (printf "tf-serving: batching.maxExecutionBatchSize (%d) only applies with large batch splitting and TF Serving ignores it otherwise; set batching.enableLargeBatchSplitting=true or batching.maxExecutionBatchSize=0" $execution) }}
{{- end }}
{{- /* SharedBatchScheduler::AddQueue (TensorFlow, batching_util/shared_batch_scheduler.h) refuses a queue whose
max_execution_batch_size exceeds its max_batch_size when splitting is on. */}}
{{- if gt $execution $max }}
{{- fail (printf "tf-serving: batching.maxExecutionBatchSize (%d) must be at most batching.maxBatchSize (%d): requests up to maxBatchSize are split into batches of at most maxExecutionBatchSize, and TF Serving refuses to load a model otherwise; lower it or raise batching.maxBatchSize" $execution $max) }}
{{- end }}
{{- /* A request waits in its batch holding its gRPC thread (session_bundle_config.proto), and gRPC's
sync server keeps one thread polling, refusing the call that would take it (ThreadManager::MainWorkLoop,
src/cpp/thread_manager/thread_manager.cc): at most grpcMaxThreads - 1 requests can be in a batch. The
batches formed are max_batch_size, or with splitting max_execution_batch_size (GetQueueOptions,
servables/tensorflow/bundle_factory_util.h). Per-model batching reads max_batch_size from each
SavedModel, which the chart cannot see. */}}
{{- $grpcThreads := int64 .Values.server.grpcMaxThreads }}
{{- $batch := $max }}
{{- $batchPath := "batching.maxBatchSize" }}
{{- if and $b.enableLargeBatchSplitting $b.maxExecutionBatchSize }}
{{- $batch = int64 $b.maxExecutionBatchSize }}
{{- $batchPath = "batching.maxExecutionBatchSize" }}
{{- end }}
{{- if and (not $b.perModelParameters) (le $grpcThreads $batch) }}
{{- fail (printf "tf-serving: server.grpcMaxThreads (%d) cannot fill a batch of %s (%d): every gRPC request holds one of those threads while it waits in its batch, and gRPC keeps one polling and refuses the call that would take it (RESOURCE_EXHAUSTED \"Server Threadpool Exhausted\"), so no batch gets more than %d requests; set server.grpcMaxThreads to at least %d (upstream advice: about twice the batch, %d)" $grpcThreads $batchPath $batch (sub $grpcThreads 1) (add $batch 1) (mul 2 $batch)) }}
{{- end }}
{{- with $b.allowedBatchSizes }}
{{- $sizes := list }}
{{- range . }}
{{- $sizes = append $sizes (int64 .) }}
{{- end }}
{{- /* The server does not check the order on this path, but pads a batch to the first size that fits
(RoundToLowestAllowedBatchSize, batching/batching_util.cc), so an unsorted list pads wrongly. */}}
{{- $previous := int64 0 }}
{{- range $sizes }}
{{- if le . $previous }}
{{- fail (printf "tf-serving: batching.allowedBatchSizes must be strictly increasing, got %v: batches are padded to the first size that fits; sort them and drop duplicates" $sizes) }}
{{- end }}
{{- $previous = . }}
{{- end }}
{{- /* WrapSessionForBatching (servables/tensorflow/bundle_factory_util.cc), the path the model
server takes, refuses a list whose last entry is not max_batch_size, with or without splitting. */}}
{{- $last := last $sizes }}
{{- if ne $last $max }}
{{- fail (printf "tf-serving: batching.allowedBatchSizes must end with batching.maxBatchSize (%d), got %v: TF Serving refuses any other last entry when it loads a model (\"Last entry in allowed_batch_sizes must match max_batch_size\"), with or without large batch splitting; append %d or set batching.maxBatchSize to %d" $max $sizes $max $last) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
