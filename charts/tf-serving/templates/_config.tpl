{{/*
The TF Serving config files of one track (models.config, monitoring.config, batching.config), the
ConfigMap that holds them and the checksum that rolls the pods. All take a track context.
*/}}

{{/*
Name of the ConfigMap that holds the TF Serving config files.
*/}}
{{- define "tf-serving.configMapName" -}}
{{- printf "%s-config" (.TrackFullname | default (include "tf-serving.fullname" .)) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Path of models.config inside the container.
*/}}
{{- define "tf-serving.modelConfigPath" -}}
{{- printf "%s/models.config" (trimSuffix "/" .Values.server.configMountPath) }}
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
models.config: a text-format tensorflow.serving.ModelServerConfig (protobuf text, not YAML).
*/}}
{{- define "tf-serving.modelsConfig" -}}
model_config_list {
{{- range .Values.models }}
  config {
    name: {{ .name | quote }}
    base_path: {{ .basePath | quote }}
    model_platform: {{ .platform | default "tensorflow" | quote }}
    {{- with .versionPolicy }}
    model_version_policy {
      {{- if .latest }}
      latest {
        num_versions: {{ .latest.numVersions | int64 }}
      }
      {{- else if .specific }}
      specific {
        {{- range .specific.versions }}
        versions: {{ . | int64 }}
        {{- end }}
      }
      {{- else if hasKey . "all" }}
      all {}
      {{- end }}
    }
    {{- end }}
    {{- range $label, $version := .versionLabels }}
    version_labels {
      key: {{ $label | quote }}
      value: {{ $version | int64 }}
    }
    {{- end }}
  }
{{- end }}
}
{{- end }}

{{/*
monitoring.config: a text-format tensorflow.serving.MonitoringConfig.
*/}}
{{- define "tf-serving.monitoringConfig" -}}
prometheus_config {
  enable: true
  path: {{ .Values.metrics.path | quote }}
}
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
Checksum of the config files the server reads once at start, for the pod template: a change rolls
the pods. With hot reload (server.modelConfigPollWaitSeconds > 0) only the model set of
models.config is hashed (each model's name, base path and platform, in name order), so version
policy and label changes reach the running pods through the mounted volume, while adding, removing
or re-pathing a model rolls them: ServerCore::ReloadConfig (model_servers/server_core.cc) waits,
with no timeout and holding its lock, until a newly added model has a version, so a model it cannot
load would stop every later reload, and only a restart (new pods run check-models first) clears it.
batching.config and monitoring.config are read once, so they stay in.
Only file contents are hashed (no labels): a chart version bump alone does not roll the pods.
readiness.sh is never hashed: only old pods run it, and leaving it out keeps the checksum (and the
pods) unchanged when the key is finally removed.
*/}}
{{- define "tf-serving.configChecksum" -}}
{{- $files := include "tf-serving.configFiles" . | fromJson }}
{{- $_ := unset $files "readiness.sh" }}
{{- if gt (int64 .Values.server.modelConfigPollWaitSeconds) 0 }}
{{- $_ := unset $files "models.config" }}
{{- $models := list }}
{{- range .Values.models }}
{{- $models = append $models (printf "%q %q %q" .name .basePath (.platform | default "tensorflow")) }}
{{- end }}
{{- $_ := set $files "models.config model set" (sortAlpha $models | join "\n") }}
{{- end }}
{{- $text := "" }}
{{- range $name := keys $files | sortAlpha }}
{{- $text = printf "%s%s\n%s\n" $text $name (index $files $name) }}
{{- end }}
{{- sha256sum $text }}
{{- end }}
