{{/*
Pod-level pieces of a track's Deployment besides the server container: volumes and model storage,
init containers, scheduling. Each takes a track context (so track overrides of models, nodeSelector
and tolerations apply) and renders nothing when its feature is off.
*/}}

{{/*
Is modelStorage.source one that mounts a local volume at modelStorage.mountPath? "true" or "".
*/}}
{{- define "tf-serving.modelStorageIsLocal" -}}
{{- if has .Values.modelStorage.source (list "demo" "existingClaim" "pvc" "nfs" "initContainer" "image") }}true{{ end }}
{{- end }}

{{/*
The chart's built-in demo (modelStorage.source=demo): TF Serving's half_plus_two, version 1, whose
files are in files/demo-model/half_plus_two/1 (written by scripts/build_demo_model.py --chart), in
one ConfigMap per release shared by every track, mounted at modelStorage.mountPath. The one model
list it serves, as JSON: what `models` must be (per track) with this source.
*/}}
{{- define "tf-serving.demoModels" -}}
{{- list (dict "name" "half_plus_two" "basePath" (printf "%s/half_plus_two" (trimSuffix "/" .Values.modelStorage.mountPath)) "platform" "tensorflow") | toJson }}
{{- end }}

{{/*
Name of the demo model's ConfigMap.
*/}}
{{- define "tf-serving.demoModelConfigMapName" -}}
{{- printf "%s-demo-model" (include "tf-serving.fullname" . | trunc 52 | trimSuffix "-") }}
{{- end }}

{{/*
The demo's files as JSON, ConfigMap key -> path in the models volume, e.g. "variables_variables.index"
-> "half_plus_two/1/variables/variables.index". A key cannot hold "/": it is the path inside the
version folder with "_" for "/".
*/}}
{{- define "tf-serving.demoModelFiles" -}}
{{- $files := dict }}
{{- range $path, $_ := .Files.Glob "files/demo-model/**" }}
{{- $volumePath := trimPrefix "files/demo-model/" $path }}
{{- $_ := set $files (regexReplaceAll "^[^/]+/[^/]+/" $volumePath "" | replace "/" "_") $volumePath }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/*
Name of the PersistentVolumeClaim the chart creates (modelStorage.source=pvc). One per release,
shared by every track.
*/}}
{{- define "tf-serving.modelsClaimName" -}}
{{- printf "%s-models" (include "tf-serving.fullname" .) | trunc 63 | trimSuffix "-" }}
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

{{/*
The `models` volume for local sources (list items).
*/}}
{{- define "tf-serving.modelStorageVolumes" -}}
{{- $s := .Values.modelStorage }}
{{- if eq $s.source "demo" }}
- name: models
  configMap:
    name: {{ include "tf-serving.demoModelConfigMapName" . }}
    # A version folder: half_plus_two/1/saved_model.pb, variables/, assets.extra/ (warmup records).
    items:
      {{- range $key, $path := include "tf-serving.demoModelFiles" . | fromJson }}
      - key: {{ $key }}
        path: {{ $path }}
      {{- end }}
{{- else if eq $s.source "existingClaim" }}
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
  # The download tool's scratch space, bounded like the server's /tmp (the models go to their own volume).
  emptyDir:
    sizeLimit: 1Gi
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
Init containers: the download into the `models` emptyDir (modelStorage.source=initContainer), then
the check that every model's base path holds its versions (modelStorage.checkModelsAtStart). Both
get the same restricted security context as the server.
*/}}
{{- define "tf-serving.initContainers" -}}
{{- $s := .Values.modelStorage }}
{{- if eq $s.source "initContainer" }}
{{- $i := $s.initContainer }}
- name: download-models
  {{- /* A digest wins over the tag. */}}
  image: {{ ternary (printf "%s@%s" $i.image.repository $i.image.digest) (printf "%s:%s" $i.image.repository ($i.image.tag | default "latest")) (not (empty $i.image.digest)) | quote }}
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
{{- if and $s.checkModelsAtStart (not (has $s.source (list "s3" "gcs"))) }}
{{- /* TF Serving waits forever, never Ready and never failing, when a model's base path is missing
("Could not find base path", which also stops the file-system poll of every other model) or has no
version folder ("No versions of servable ... found"), or with a specific policy none of the listed
versions (AspireSpecificVersions serves the listed versions it finds and only logs the others):
sources/storage_path/file_system_storage_path_source.cc. This check fails the pod at once in those
cases, saying which path and what to set, and warns for each listed version not there yet. It reads
folder names as TF Serving does (absl::SimpleAtoi into an int64: "0008" is version 8) and the mounted
models.config (the lines the chart writes: name, base_path, then each specific version), so model
changes move only the config checksum and hot reload keeps working. Object stores (s3, gcs) are read
by the server itself and are not checked here. */}}
- name: check-models
  image: {{ include "tf-serving.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command:
    - /bin/bash
    - -c
    - |
      export LC_ALL=C
      shopt -s nullglob
      status=0 name="" base="" listed=()
      # The version absl::SimpleAtoi reads from an entry name into an int64, in $version: ASCII
      # whitespace around an optional sign and decimal digits ("0008" and "+8" are 8, "v8" is none).
      read_version() {
        [[ $1 =~ ^[[:space:]]*([+-]?)0*([0-9]+)[[:space:]]*$ ]] || return 1
        local sign=${BASH_REMATCH[1]} digits=${BASH_REMATCH[2]} limit=9223372036854775807
        [[ $sign == - ]] && limit=9223372036854775808
        (( ${#digits} < 19 )) || { (( ${#digits} == 19 )) && [[ ! $digits > $limit ]]; } || return 1
        version=$digits
        [[ $sign == - && $digits != 0 ]] && version=-$digits
        return 0
      }
      check() {
        [[ -n $name ]] || return 0
        local entry found=" " present=0 v
        if [[ ! -d $base ]]; then
          echo "tf-serving: model $name: its base path $base is not a folder: TF Serving would log \"Could not find base path\" and wait forever (and find no new version of any other model meanwhile). Put the model's version folders there, or set models[].basePath and modelStorage (chart README: Model storage); make demo shows a working setup." >&2
          status=1; return
        fi
        for entry in "$base"/*; do
          read_version "${entry##*/}" && found+="$version "
        done
        if (( ${#listed[@]} == 0 )); then
          [[ $found != " " ]] && return 0
          echo "tf-serving: model $name: no version folder (a number, e.g. $base/1) under $base: TF Serving would wait for one forever. Put the SavedModel versions there, or set models[].basePath and modelStorage (chart README: Model storage); make demo shows a working setup." >&2
          status=1; return
        fi
        for v in "${listed[@]}"; do
          if [[ $found == *" $v "* ]]; then
            present=$((present + 1))
          else
            echo "tf-serving: warning: model $name: version $v of its versionPolicy.specific is not under $base (yet); TF Serving serves the listed versions it finds and loads this one when it appears." >&2
          fi
        done
        (( present > 0 )) && return 0
        echo "tf-serving: model $name: none of the versions its versionPolicy.specific lists (${listed[*]}) is under $base: TF Serving would wait for one forever. Put at least one of them there, or list versions that exist." >&2
        status=1
      }
      while read -r key value; do
        case $key in
          name:) check; name=${value//\"/} base="" listed=() ;;
          base_path:) base=${value//\"/} ;;
          versions:) listed+=("$value") ;;
        esac
      done < "$1"
      check
      exit $status
    - check-models
  args:
    - {{ include "tf-serving.modelConfigPath" . | quote }}
  {{- with .Values.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  resources:
    requests:
      cpu: 10m
      memory: 16Mi
    limits:
      cpu: 100m
      memory: 64Mi
  volumeMounts:
    - name: config
      mountPath: {{ .Values.server.configMountPath }}
      readOnly: true
    {{- with include "tf-serving.modelStorageMounts" . | trim }}
    {{- . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end }}

{{/*
Scheduling of one track's pods (pod spec keys): node selector and tolerations (the track's values
plus the GPU defaults when gpu.enabled), priorityClassName, topology spread (the preset's, then the
user's own), and affinity (the user's, plus the anti-affinity preset unless the user set
podAntiAffinity). The presets, and user constraints without a labelSelector, select the track's own pods.
*/}}
{{- define "tf-serving.scheduling" -}}
{{- $selector := deepCopy (.Values.nodeSelector | default dict) }}
{{- if .Values.gpu.enabled }}
{{- $selector = merge $selector (deepCopy (.Values.gpu.nodeSelector | default dict)) }}
{{- end }}
{{- with $selector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $tolerations := .Values.tolerations | default list }}
{{- if .Values.gpu.enabled }}
{{- $tolerations = concat $tolerations (.Values.gpu.tolerations | default list) }}
{{- end }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $s := .Values.scheduling }}
{{- with $s.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- $trackLabels := include "tf-serving.trackSelectorLabels" $ | fromYaml }}
{{- $spread := list }}
{{- if $s.topologySpread.enabled }}
{{- range $s.topologySpread.topologyKeys }}
{{- /* matchLabelKeys: count only the pods of the current ReplicaSet, so a rolling update spreads the new pods too. */}}
{{- $spread = append $spread (dict "maxSkew" $s.topologySpread.maxSkew "topologyKey" . "whenUnsatisfiable" $s.topologySpread.whenUnsatisfiable "labelSelector" (dict "matchLabels" $trackLabels) "matchLabelKeys" (list "pod-template-hash")) }}
{{- end }}
{{- end }}
{{- range .Values.topologySpreadConstraints }}
{{- $constraint := deepCopy . }}
{{- if not (hasKey $constraint "labelSelector") }}
{{- $_ := set $constraint "labelSelector" (dict "matchLabels" $trackLabels) }}
{{- end }}
{{- $spread = append $spread $constraint }}
{{- end }}
{{- with $spread }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- /* The user's own affinity.podAntiAffinity wins over the preset; its other keys combine with it. */}}
{{- $affinity := deepCopy (.Values.affinity | default dict) }}
{{- if and (ne $s.podAntiAffinity "none") (not (hasKey $affinity "podAntiAffinity")) }}
{{- $term := dict "topologyKey" $s.antiAffinityTopologyKey "labelSelector" (dict "matchLabels" $trackLabels) }}
{{- if eq $s.podAntiAffinity "hard" }}
{{- $_ := set $affinity "podAntiAffinity" (dict "requiredDuringSchedulingIgnoredDuringExecution" (list $term)) }}
{{- else }}
{{- $_ := set $affinity "podAntiAffinity" (dict "preferredDuringSchedulingIgnoredDuringExecution" (list (dict "weight" 100 "podAffinityTerm" $term))) }}
{{- end }}
{{- end }}
{{- with $affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
