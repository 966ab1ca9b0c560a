{{/*
Chart name, trimmed to 63 characters (the DNS label limit).
*/}}
{{- define "tf-serving.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: `<release>-<chart>`, or the release name alone when it already contains
the chart name. Trimmed to 63 characters.
*/}}
{{- define "tf-serving.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "tf-serving.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels for every object. The schema keeps commonLabels away from the chart's own label keys.
*/}}
{{- define "tf-serving.labels" -}}
helm.sh/chart: {{ include "tf-serving.chart" . }}
{{ include "tf-serving.selectorLabels" . }}
app.kubernetes.io/version: {{ include "tf-serving.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tf-serving
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels. Selectors are immutable after install: only name and instance, never user labels.
*/}}
{{- define "tf-serving.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tf-serving.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels for the objects of one release track. Takes a track context.
*/}}
{{- define "tf-serving.trackLabels" -}}
{{ include "tf-serving.labels" . }}
tf-serving.io/track: {{ .Track }}
{{- end }}

{{/*
Selector labels of one release track: the release-wide ones plus the track. Every Deployment
selects only its own track's pods, so tracks never overlap.
Takes a track context (see tf-serving.trackContexts).
*/}}
{{- define "tf-serving.trackSelectorLabels" -}}
{{ include "tf-serving.selectorLabels" . }}
tf-serving.io/track: {{ .Track }}
{{- end }}

{{/*
Names of the release tracks, sorted, as a JSON list: `blue` and `green` with blueGreen, else the
keys of `tracks`; no `tracks` means one track named `main`.
*/}}
{{- define "tf-serving.trackNames" -}}
{{- if .Values.blueGreen.enabled }}
{{- list "blue" "green" | toJson }}
{{- else if .Values.tracks }}
{{- keys .Values.tracks | sortAlpha | toJson }}
{{- else }}
{{- list "main" | toJson }}
{{- end }}
{{- end }}

{{/*
The track the main Service routes to: the active colour with blueGreen, else primaryTrack, else
the first track by name.
*/}}
{{- define "tf-serving.primaryTrack" -}}
{{- $names := include "tf-serving.trackNames" . | fromJsonArray }}
{{- if .Values.blueGreen.enabled }}
{{- .Values.blueGreen.active }}
{{- else }}
{{- .Values.primaryTrack | default (first $names) }}
{{- end }}
{{- end }}

{{/*
Fill a track context: `{{- $ctx := dict }}{{- include "tf-serving.trackContext" (list $ $track $ctx) }}`.
The context is the root context with .Values replaced by the track's values, plus .Track (the
name), .IsPrimary, .TrackFullname and .Root (the real root), so every named template works on it.
Track values are the track's overrides applied over the top-level values: maps in $mergedMaps are
merged key by key, every other key (models, resources, ...) is replaced whole. `set` is used rather
than mergeOverwrite so zero values (replicaCount: 0, false) do override. Renders nothing.
*/}}
{{- define "tf-serving.trackContext" -}}
{{- $root := index . 0 }}
{{- $name := index . 1 }}
{{- $ctx := index . 2 }}
{{- $values := deepCopy $root.Values }}
{{- $overrides := dict }}
{{- if $root.Values.blueGreen.enabled }}
{{- $overrides = index $root.Values.blueGreen $name | default dict }}
{{- else if $root.Values.tracks }}
{{- $overrides = index $root.Values.tracks $name | default dict }}
{{- end }}
{{- $mergedMaps := list "image" "podLabels" "podAnnotations" "autoscaling" }}
{{- range $key, $value := $overrides }}
{{- if and (has $key $mergedMaps) (kindIs "map" $value) }}
{{- $merged := deepCopy (index $values $key | default dict) }}
{{- range $k, $v := $value }}
{{- $_ := set $merged $k $v }}
{{- end }}
{{- $_ := set $values $key $merged }}
{{- else }}
{{- $_ := set $values $key $value }}
{{- end }}
{{- end }}
{{- $_ := set $ctx "Values" $values }}
{{- range $key := list "Release" "Chart" "Capabilities" "Template" "Files" }}
{{- $_ := set $ctx $key (index $root $key) }}
{{- end }}
{{- $_ := set $ctx "Track" $name }}
{{- $_ := set $ctx "Root" $root }}
{{- $_ := set $ctx "IsPrimary" (eq $name (include "tf-serving.primaryTrack" $root)) }}
{{- $_ := set $ctx "TrackFullname" (include "tf-serving.trackFullname" $ctx) }}
{{- end }}

{{/*
Dotted value path a track's value comes from, for error messages: `(list $root $track "models")`
gives `tracks.<track>.models` when the track overrides `models`, `blueGreen.<colour>.models` when
the blue/green colour does, else the top-level `models`. A dotted key (`image.tag`) is followed
into merged maps (`image` is merged key by key).
*/}}
{{- define "tf-serving.trackValuePath" -}}
{{- $root := index . 0 }}
{{- $track := index . 1 }}
{{- $key := index . 2 }}
{{- $prefix := "" }}
{{- $overrides := dict }}
{{- if $root.Values.blueGreen.enabled }}
{{- $overrides = index $root.Values.blueGreen $track | default dict }}
{{- $prefix = printf "blueGreen.%s." $track }}
{{- else if $root.Values.tracks }}
{{- $overrides = index $root.Values.tracks $track | default dict }}
{{- $prefix = printf "tracks.%s." $track }}
{{- end }}
{{- $found := true }}
{{- $node := $overrides }}
{{- range $part := splitList "." $key }}
{{- if and $found (kindIs "map" $node) (hasKey $node $part) }}
{{- $node = index $node $part }}
{{- else }}
{{- $found = false }}
{{- end }}
{{- end }}
{{- if $found }}{{ $prefix }}{{ end }}{{ $key }}
{{- end }}

{{/*
Value path of a track's model list: `models`, `tracks.<track>.models` or `blueGreen.<colour>.models`.
Takes (list $root $track).
*/}}
{{- define "tf-serving.modelsValuePath" -}}
{{- include "tf-serving.trackValuePath" (list (index . 0) (index . 1) "models") }}
{{- end }}

{{/*
Resource name of a track's objects: the full name for the default track `main` (so a single-track
install has the names users expect), `<fullname>-<track>` for every other track.
*/}}
{{- define "tf-serving.trackFullname" -}}
{{- if eq .Track "main" }}
{{- include "tf-serving.fullname" . }}
{{- else }}
{{- printf "%s-%s" (include "tf-serving.fullname" . | trunc (int (sub 62 (len .Track)))) .Track | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "tf-serving.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tf-serving.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

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
The server's command-line flags, one per list item. Only flags the binary knows: an unknown flag
makes tensorflow_model_server exit at start.
*/}}
{{- define "tf-serving.serverArgs" -}}
- --port={{ .Values.server.grpcPort }}
- --rest_api_port={{ .Values.server.restPort }}
- --model_config_file={{ include "tf-serving.modelConfigPath" . }}
{{- if .Values.metrics.enabled }}
- --monitoring_config_file={{ trimSuffix "/" .Values.server.configMountPath }}/monitoring.config
{{- end }}
{{- include "tf-serving.serverTuningArgs" . }}
{{- include "tf-serving.podServerArgs" . }}
{{- range .Values.server.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
Access modes of the chart-created model claim, as a JSON list. A claim's spec is immutable, so on
upgrade (modelStorage.pvc.keepExistingAccessModes) the live claim's modes win over the values:
chart 0.1.0 created ReadWriteOnce claims, 0.2.0 defaults to ReadWriteMany. `helm template` has no
cluster, so it renders the values.
*/}}
{{- define "tf-serving.modelsClaimAccessModes" -}}
{{- $pvc := .Values.modelStorage.pvc }}
{{- $modes := $pvc.accessModes }}
{{- if $pvc.keepExistingAccessModes }}
{{- with lookup "v1" "PersistentVolumeClaim" .Release.Namespace (include "tf-serving.modelsClaimName" .) }}
{{- $modes = .spec.accessModes }}
{{- end }}
{{- end }}
{{- toJson $modes }}
{{- end }}
