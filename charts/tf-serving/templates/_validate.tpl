{{/*
Cross-field checks that the JSON schema cannot express. Each message names the value path and
says what to do. Included once, from configmap.yaml, so a bad combination fails the whole render.
*/}}
{{- define "tf-serving.validate" -}}
{{- $names := dict }}
{{- range $i, $m := .Values.models }}
{{- if hasKey $names $m.name }}
{{- fail (printf "tf-serving: models[%d].name %q is already used by models[%d]; model names must be unique" $i $m.name (get $names $m.name)) }}
{{- end }}
{{- $_ := set $names $m.name $i }}
{{- end }}
{{- if eq (int .Values.server.grpcPort) (int .Values.server.restPort) }}
{{- fail (printf "tf-serving: server.grpcPort and server.restPort are both %d; gRPC and REST need different ports" (int .Values.server.grpcPort)) }}
{{- end }}
{{- $tracks := include "tf-serving.trackNames" . | fromJsonArray }}
{{- if and .Values.primaryTrack (not (has .Values.primaryTrack $tracks)) }}
{{- fail (printf "tf-serving: primaryTrack %q is not one of the tracks %v; name a key of tracks or leave it empty" .Values.primaryTrack $tracks) }}
{{- end }}
{{- include "tf-serving.validateServerConfig" . }}
{{- end }}

{{/*
Server config (issue 3, server half): models' version policies and labels (checked for the
top-level models and for every track that overrides them), batching. Included from tf-serving.validate.
*/}}
{{- define "tf-serving.validateServerConfig" -}}
{{- $root := . }}
{{- range $track := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $prefix := "models" }}
{{- if and $root.Values.tracks (hasKey (index $root.Values.tracks $track | default dict) "models") }}
{{- $prefix = printf "tracks.%s.models" $track }}
{{- end }}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (list $root $track $ctx) }}
{{- range $i, $m := $ctx.Values.models }}
{{- $path := printf "%s[%d]" $prefix $i }}
{{- if and $m.versionLabels (not $root.Values.server.allowVersionLabelsForUnavailableModels) }}
{{- fail (printf "tf-serving: %s.versionLabels needs server.allowVersionLabelsForUnavailableModels=true: a starting server applies the labels before any version has loaded and, without that flag, refuses them and exits. Set it to true, or remove the labels" $path) }}
{{- end }}
{{- $policy := $m.versionPolicy | default (dict "latest" (dict "numVersions" 1)) }}
{{- if and $policy.latest $m.versionLabels }}
{{- $labelled := list }}
{{- range $label, $version := $m.versionLabels }}
{{- $labelled = append $labelled (int64 $version) | uniq }}
{{- end }}
{{- $keep := int64 $policy.latest.numVersions }}
{{- if gt (len $labelled | int64) $keep }}
{{- fail (printf "tf-serving: %s.versionLabels point at %d different versions %v, but %s keeps only the latest %d, so some labels could never be served; use %s.versionPolicy.specific.versions with those versions, or latest.numVersions >= %d" $path (len $labelled) $labelled (ternary (printf "%s.versionPolicy" $path) "TF Serving's default policy (no versionPolicy)" (hasKey $m "versionPolicy")) $keep $path (len $labelled)) }}
{{- end }}
{{- end }}
{{- $specific := (($m.versionPolicy | default dict).specific | default dict).versions }}
{{- if $specific }}
{{- $loaded := list }}
{{- range $specific }}
{{- $loaded = append $loaded (int64 .) }}
{{- end }}
{{- range $label, $version := $m.versionLabels }}
{{- if not (has (int64 $version) $loaded) }}
{{- fail (printf "tf-serving: %s.versionLabels.%s points at version %d, which %s.versionPolicy.specific.versions %v does not load, so the label could never be served; add %d to the versions or point the label at one of them" $path $label (int64 $version) $path $loaded (int64 $version)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
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
{{- if gt $execution $max }}
{{- fail (printf "tf-serving: batching.maxExecutionBatchSize (%d) must be at most batching.maxBatchSize (%d): requests up to maxBatchSize are split into batches of at most maxExecutionBatchSize; lower it or raise batching.maxBatchSize" $execution $max) }}
{{- end }}
{{- with $b.allowedBatchSizes }}
{{- $sizes := list }}
{{- range . }}
{{- $sizes = append $sizes (int64 .) }}
{{- end }}
{{- $previous := int64 0 }}
{{- range $sizes }}
{{- if le . $previous }}
{{- fail (printf "tf-serving: batching.allowedBatchSizes must be strictly increasing, got %v; sort them and drop duplicates" $sizes) }}
{{- end }}
{{- $previous = . }}
{{- end }}
{{- $last := last $sizes }}
{{- if and $b.enableLargeBatchSplitting $execution }}
{{- if ne $last $execution }}
{{- fail (printf "tf-serving: batching.allowedBatchSizes must end with batching.maxExecutionBatchSize (%d) when large batch splitting is on, got %v; make the last size %d" $execution $sizes $execution) }}
{{- end }}
{{- else if ne $last $max }}
{{- fail (printf "tf-serving: batching.allowedBatchSizes must end with batching.maxBatchSize (%d), got %v; make the last size %d or set batching.maxBatchSize to %d" $max $sizes $max $last) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
