{{/*
Models: the top-level `models` list (tracks that override it are checked per track).
*/}}
{{- define "tf-serving.validate.models" -}}
{{- include "tf-serving.validate.modelList" (dict "root" . "path" "models" "models" .Values.models) }}
{{- end }}

{{/*
Models of one track: its own model list when it overrides `models`, and the version policies
and labels of every model it serves. Per track: called from validate.yaml with (dict "root" $ "track" $track "ctx" $ctx).
*/}}
{{- define "tf-serving.validate.models.track" -}}
{{- $root := .root }}
{{- $track := .track }}
{{- $ctx := .ctx }}
{{- $prefix := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "models") }}
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
{{- if ne $prefix "models" }}
{{- include "tf-serving.validate.modelList" (dict "root" $root "path" $prefix "models" $ctx.Values.models) }}
{{- end }}
{{- end }}

{{/*
One model list with its value path, (dict "root" $ "path" "models" "models" $list): unique names,
base paths that are not a version folder (the server lists the numbered folders inside basePath),
and `s3://` / `gs://` base paths only with the storage source that reads them (credentials,
egress, and for S3 an image that can).
*/}}
{{- define "tf-serving.validate.modelList" -}}
{{- $path := .path }}
{{- $src := .root.Values.modelStorage.source }}
{{- $names := dict }}
{{- range $i, $m := .models }}
{{- if hasKey $names $m.name }}
{{- fail (printf "tf-serving: %s[%d].name %q is already used by %s[%d]; model names must be unique within a list: rename one or remove the duplicate" $path $i $m.name $path (get $names $m.name)) }}
{{- end }}
{{- $_ := set $names $m.name $i }}
{{- $version := base (toString $m.basePath) }}
{{- if regexMatch "^[0-9]+$" $version }}
{{- $parent := regexReplaceAll "/+[0-9]+/*$" (toString $m.basePath) "" | default "/" }}
{{- fail (printf "tf-serving: %s[%d].basePath %q ends in a version folder (%s); TF Serving serves the numbered version folders inside basePath, finds none inside this one, logs \"No versions of servable %s found under base path\" and never serves the model: point basePath at the parent, %q, and pick versions with %s[%d].versionPolicy (e.g. {specific: {versions: [%s]}})" $path $i $m.basePath $version $m.name $parent $path $i (regexReplaceAll "^0+([0-9])" $version "${1}")) }}
{{- end }}
{{- if and (hasPrefix "s3://" $m.basePath) (ne $src "s3") }}
{{- fail (printf "tf-serving: %s[%d].basePath %q is an s3:// URL but modelStorage.source is %q; the server can only read it with modelStorage.source=s3 (credentials, and modelStorage.s3.serverSupportsS3=true with an image built with TensorFlow's S3 file system: the stock images cannot), or download it with modelStorage.source=initContainer and use a path under modelStorage.mountPath (chart 0.1.0 rendered this and the server failed at load time: see Upgrading in the chart README)" $path $i $m.basePath $src) }}
{{- end }}
{{- /* The stock images link TensorFlow's GCS file system only; HDFS went with S3 in 2.7 (model_servers/BUILD). */}}
{{- if hasPrefix "hdfs://" (toString $m.basePath) }}
{{- fail (printf "tf-serving: %s[%d].basePath %q is an HDFS URL, but the tensorflow/serving images since 2.7 have no HDFS file system (model_servers/BUILD), so the server would fail to read it; download the model with modelStorage.source=initContainer and use a path under modelStorage.mountPath" $path $i $m.basePath) }}
{{- end }}
{{- if and (hasPrefix "gs://" $m.basePath) (ne $src "gcs") }}
{{- fail (printf "tf-serving: %s[%d].basePath %q is a gs:// URL but modelStorage.source is %q; set modelStorage.source=gcs (credentials from modelStorage.gcs.existingSecret, or workload identity through serviceAccount.annotations when it is empty), or download it with modelStorage.source=initContainer and use a path under modelStorage.mountPath (chart 0.1.0 rendered this: see Upgrading in the chart README)" $path $i $m.basePath $src) }}
{{- end }}
{{- end }}
{{- end }}
