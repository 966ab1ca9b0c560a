{{/*
Pod-level pieces of the serving Deployment: probes, shutdown, storage, GPU, init containers.
Every helper takes a track context (so track overrides of models, resources, nodeSelector and
tolerations apply) and renders nothing when its feature is off.
*/}}

{{/*
Server flags owned by the pod: the gRPC health service and the GPU memory fraction.
Included from tf-serving.serverArgs.
*/}}
{{- define "tf-serving.podServerArgs" -}}
{{- if .Values.probes.grpcHealthCheck.enabled }}
- --enable_grpc_healthcheck_service=true
{{- end }}
{{- if and .Values.gpu.enabled (ne (toString .Values.gpu.perProcessGpuMemoryFraction) "<nil>") }}
- --per_process_gpu_memory_fraction={{ .Values.gpu.perProcessGpuMemoryFraction }}
{{- end }}
{{- end }}

{{/*
Readiness: every model in the mounted models.config that the server knows has a version in state
AVAILABLE. The names are read from the file at probe time, not passed in the pod template, so a
`models` change with hot reload on leaves the pod template (and the pods) alone.
With hot reload on ($4 = snapshot) only the models the server started with are waited on: every
pod of the track picks up a ConfigMap change within the same kubelet sync, so gating on a model
added by hot reload would take every pod out of the Service at once (maxUnavailable does not apply
to a reload). The first run (readiness runs only after the startup probe passed, i.e. after the
initial load) writes the names it parsed to $5/tf-serving-readiness.models ($5 defaults to /tmp,
the pod's emptyDir; written to a temporary file and renamed, so no run reads half a file), and later
runs check the names of that snapshot that are still in the live file: a model added later is not
waited on, a model removed later is not requested (TF Serving keeps answering 200 with its versions
in END, not 404, for a model it has unloaded). Names the live file no longer has and names the
server answers 404 for (added to the file after the server read it but before the first run, not
picked up yet) are dropped from the snapshot, so re-adding or picking them up later is not gated
either. The snapshot lives as long as the pod: a restarted container keeps it, which is harmless
(the restarted server loaded the whole live file before its ports opened). A model added to the
ConfigMap after the server read it but already picked up by it (LOADING) before the first run is
in the snapshot: that pod alone waits for it, as without the snapshot.
Without hot reload ($4 absent or `live`) the live file is read at every run: it only changes there
through a kubelet update that precedes the rollout which replaces the pod.
GET /v1/models/NAME answers 200 in every state (START, LOADING, AVAILABLE, UNLOADING, END), so the
status code alone means nothing: the body is checked. A 404 (a model the server has not loaded:
added to the file but not picked up yet, or a kubelet update of the file reaching a pod that is
about to be replaced) counts as ready for that model; any other status is not ready.
The file is tokenised (strings, comments, `{}`/`<>` messages, `[...]` lists), and only the `name`
fields of model_config_list.config count: version_labels keys, policies and base paths cannot pass
for a model name. Bash builtins only (/dev/tcp, read -t, [[ =~ ]]), because the stock image has
bash but no curl or wget; the snapshot also uses mv and rm (coreutils, in the Ubuntu-based image).
It is the `readiness.sh` key of the track's config ConfigMap (tf-serving.configFiles), run as
`/bin/bash <server.configMountPath>/readiness.sh ARGS`, so the pod spec carries a path, not the script.
Arguments: $1 REST port, $2 time budget in seconds for all models, $3 path of models.config,
optional $4 `live` (default) or `snapshot`, optional $5 directory of the snapshot (default /tmp;
the tests point it elsewhere). Pods created before $4 existed run the script without it: live.
The kubelet updates the mounted file of running pods in place, so pods created by an older chart
version run a newer script with their own (older) arguments until they are replaced: change the
arguments only in a way the script still understands from older pod templates.
*/}}
{{- define "tf-serving.readinessScript" -}}
export LC_ALL=C
port=$1 deadline=$((SECONDS + $2)) config=$3 mode=${4:-live} snapshot=${5:-/tmp}/tf-serving-readiness.models
plain='^[A-Za-z0-9][A-Za-z0-9_.-]*$'
available='"state"[[:space:]]*:[[:space:]]*"AVAILABLE"'
token=$'^[[:space:],;]*([][{}<>:]|"([^"\\\\]|\\\\.)*"|\'([^\'\\\\]|\\\\.)*\'|[^][[:space:]{}<>:,;"\'#]+)(.*)$'
rest='^[[:space:],;]*(#.*)?$'
models=()
# path: the enclosing message fields; lists[depth]: the field of an open [ ... ] list at that depth.
parse() {
  local line tok n=0 field='' value='' path=() lists=()
  [[ -f $1 && -r $1 ]] || { echo "cannot read model config $1" >&2; return 1; }
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    while [[ $line =~ $token ]]; do
      tok=${BASH_REMATCH[1]} line=${BASH_REMATCH[4]}
      case $tok in
        :) value=1; continue ;;
        '{' | '<') field=${lists[${#path[@]}]:-$field}; path+=("$field") ;;
        '}' | '>') ((${#path[@]})) || { echo "$1:$n: unbalanced '$tok'" >&2; return 1; }; unset 'path[-1]' ;;
        '[') lists[${#path[@]}]=$field ;;
        ']') unset 'lists[${#path[@]}]' ;;
        [\"\']*)
          if [[ $value && $field == name && ${path[*]} == 'model_config_list config' ]]; then
            tok=${tok:1:-1}
            [[ $tok =~ $plain ]] || { echo "$1:$n: model name '$tok' is not a plain URL path segment" >&2; return 1; }
            models+=("$tok")
          fi ;;
        *) [[ $value ]] || { field=$tok; continue; } ;;
      esac
      value=''
    done
    [[ $line =~ $rest ]] || { echo "$1:$n: cannot parse: $line" >&2; return 1; }
  done <"$1"
  ((${#path[@]} == 0)) || { echo "$1: '${path[-1]}' is not closed" >&2; return 1; }
  ((${#models[@]})) || { echo "no model names in $1 (model_config_list { config { name: \"...\" } })" >&2; return 1; }
}
# save NAME...: replace the snapshot (temporary file + rename). A failure only costs the snapshot.
save() {
  local tmp=$snapshot.$$
  { if (($#)); then printf '%s\n' "$@"; fi; } >"$tmp" && mv -f "$tmp" "$snapshot" && return
  rm -f "$tmp"
  echo "cannot write the model snapshot $snapshot: this run checks the models in $config" >&2
}
# restore: the snapshot's names into started (one plain name per line; an empty file is no model).
restore() {
  local name
  started=()
  while IFS= read -r name || [[ -n $name ]]; do
    [[ $name =~ $plain ]] || return 1
    started+=("$name")
  done
}
remaining() { left=$((deadline - SECONDS)); ((left > 0)); }
get() {
  local line rc length=-1
  response='' status='' code=''
  exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "REST port $port is not open" >&2; return 1; }
  printf 'GET /v1/models/%s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" "$port" >&3
  remaining && IFS= read -r -t "$left" status <&3 || { echo "no status line from /v1/models/$1 in time" >&2; return 1; }
  while remaining && IFS= read -r -t "$left" line <&3; do
    line=${line%$'\r'}
    [[ -z $line ]] && break
    [[ ${line,,} =~ ^content-length:[[:space:]]*([0-9]+) ]] && length=${BASH_REMATCH[1]}
  done
  if ((length >= 0)); then
    ((length == 0)) || { remaining && IFS= read -r -N "$length" -t "$left" response <&3; } || { echo "body of /v1/models/$1 not complete in time" >&2; return 1; }
  else
    while :; do
      remaining || { echo "body of /v1/models/$1 not complete in time" >&2; return 1; }
      IFS= read -r -t "$left" line <&3; rc=$?
      response+=$line$'\n'
      ((rc == 0)) || break
    done
    ((rc > 128)) && { echo "body of /v1/models/$1 not complete in time" >&2; return 1; }
  fi
  exec 3<&-
  [[ $status =~ ^HTTP/1\.[01][[:space:]]([0-9]{3}) ]] && code=${BASH_REMATCH[1]}
}
parse "$config" || exit 1
if [[ $mode == snapshot ]]; then
  if [[ ! -e $snapshot ]]; then
    save "${models[@]}"
  elif restore 2>/dev/null <"$snapshot"; then
    live=" ${models[*]} " models=()
    for model in "${started[@]}"; do
      if [[ $live == *" $model "* ]]; then
        models+=("$model")
      else
        echo "model $model is no longer in $config: not checked" >&2
      fi
    done
    ((${#models[@]} == ${#started[@]})) || save "${models[@]}"
  else
    echo "model snapshot $snapshot is unreadable: replaced by the models in $config" >&2
    save "${models[@]}"
  fi
  ((${#models[@]})) || echo "none of the models the server started with is left in $config: nothing to check" >&2
elif [[ $mode != live ]]; then
  echo "unknown mode '$mode' (live or snapshot): checking the models in $config" >&2
fi
for model in "${models[@]}"; do
  get "$model" || exit 1
  case $code in
    200) [[ $response =~ $available ]] || { echo "model $model has no AVAILABLE version: ${response//[[:space:]]/ }" >&2; exit 1; } ;;
    404)
      echo "model $model is not known to the server yet (404): skipped" >&2
      if [[ $mode == snapshot ]]; then
        kept=()
        for name in "${models[@]}"; do [[ $name == "$model" ]] || kept+=("$name"); done
        models=("${kept[@]}")
        echo "model $model was not loaded at start: dropped from $snapshot" >&2
        save "${models[@]}"
      fi ;;
    *) echo "/v1/models/$model: ${status%$'\r'}" >&2; exit 1 ;;
  esac
done
{{- end }}

{{/*
Where the server container finds the readiness script: the `readiness.sh` key of the config
ConfigMap, mounted as a directory at server.configMountPath.
*/}}
{{- define "tf-serving.readinessScriptPath" -}}
{{- printf "%s/readiness.sh" (trimSuffix "/" .Values.server.configMountPath) }}
{{- end }}

{{/*
startupProbe, livenessProbe and readinessProbe of the server container.
The server opens its ports only after the initial load, so startup and liveness are port checks
(or the standard gRPC health service); readiness runs the script above from the mounted ConfigMap.
*/}}
{{- define "tf-serving.probes" -}}
{{- $p := .Values.probes }}
{{- $alive := dict "tcpSocket" (dict "port" "grpc") }}
{{- if $p.grpcHealthCheck.enabled }}
{{- $alive = dict "grpc" (dict "port" (int .Values.server.grpcPort)) }}
{{- end }}
{{- $period := int $p.startup.periodSeconds }}
startupProbe:
  {{- toYaml $alive | nindent 2 }}
  # budgetSeconds {{ $p.startup.budgetSeconds }} = periodSeconds x failureThreshold (rounded up)
  periodSeconds: {{ $period }}
  timeoutSeconds: {{ $p.startup.timeoutSeconds }}
  failureThreshold: {{ div (add (int $p.startup.budgetSeconds) (sub $period 1)) $period }}
livenessProbe:
  {{- toYaml $alive | nindent 2 }}
  periodSeconds: {{ $p.liveness.periodSeconds }}
  timeoutSeconds: {{ $p.liveness.timeoutSeconds }}
  failureThreshold: {{ $p.liveness.failureThreshold }}
readinessProbe:
  {{- if $p.readiness.modelsAvailable }}
  exec:
    command:
      - /bin/bash
      - {{ include "tf-serving.readinessScriptPath" . | quote }}
      - {{ .Values.server.restPort | quote }}
      - {{ max 1 (sub (int $p.readiness.timeoutSeconds) 1) | quote }}
      - {{ include "tf-serving.modelConfigPath" . | quote }}
      {{- if gt (int64 .Values.server.modelConfigPollWaitSeconds) 0 }}
      # hot reload: wait only on the models this server started with (chart README, Probes)
      - snapshot
      {{- end }}
  {{- else }}
  tcpSocket:
    port: http
  {{- end }}
  periodSeconds: {{ $p.readiness.periodSeconds }}
  timeoutSeconds: {{ $p.readiness.timeoutSeconds }}
  failureThreshold: {{ $p.readiness.failureThreshold }}
  successThreshold: 1
{{- end }}

{{/*
preStop pause: the Pod is removed from Service endpoints while it sleeps, then the grace period
runs out (TF Serving ignores SIGTERM as PID 1). The `sleep` lifecycle action needs no binary in
the image; it is on by default from Kubernetes 1.30 (alpha, off, in 1.29), so 1.29 gets an exec sleep.
*/}}
{{- define "tf-serving.lifecycle" -}}
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
{{- end }}

{{/*
Image reference of an image values object {repository, tag, digest}; a digest wins.
*/}}
{{- define "tf-serving.imageRef" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository (.tag | default "latest") }}
{{- end }}
{{- end }}

{{/*
Is modelStorage.source one that mounts a local volume at modelStorage.mountPath? "true" or "".
*/}}
{{- define "tf-serving.modelStorageIsLocal" -}}
{{- if has .Values.modelStorage.source (list "existingClaim" "pvc" "nfs" "initContainer" "image") }}true{{ end }}
{{- end }}

{{/*
Name of the PersistentVolumeClaim the chart creates (modelStorage.source=pvc). One per release,
shared by every track.
*/}}
{{- define "tf-serving.modelsClaimName" -}}
{{- printf "%s-models" (include "tf-serving.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The `models` volume for local sources (list items).
*/}}
{{- define "tf-serving.modelStorageVolumes" -}}
{{- $s := .Values.modelStorage }}
{{- if eq $s.source "existingClaim" }}
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
  emptyDir: {}
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
Environment of the server container: object-store credentials for the server's own S3/GCS file
systems, then server.extraEnv (list items).
*/}}
{{- define "tf-serving.serverEnv" -}}
{{- $s := .Values.modelStorage }}
{{- if eq $s.source "s3" }}
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
{{- with .Values.server.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Init container that downloads the models into the `models` emptyDir (modelStorage.source=initContainer).
It gets the same restricted security context as the server.
*/}}
{{- define "tf-serving.initContainers" -}}
{{- $s := .Values.modelStorage }}
{{- if eq $s.source "initContainer" }}
{{- $i := $s.initContainer }}
- name: download-models
  image: {{ include "tf-serving.imageRef" $i.image | quote }}
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
{{- end }}

{{/*
Resources of the server container: resources, plus the GPU limit when gpu.enabled
(extended resources are requested through limits; requests default to them).
*/}}
{{- define "tf-serving.resources" -}}
{{- $resources := deepCopy (.Values.resources | default dict) }}
{{- if .Values.gpu.enabled }}
{{- $limits := get $resources "limits" | default dict }}
{{- $_ := set $limits .Values.gpu.resourceName (int .Values.gpu.count) }}
{{- $_ := set $resources "limits" $limits }}
{{- end }}
{{- with $resources }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
Node selector and tolerations: the track's values plus the GPU defaults when gpu.enabled.
*/}}
{{- define "tf-serving.nodeSelector" -}}
{{- $selector := deepCopy (.Values.nodeSelector | default dict) }}
{{- if .Values.gpu.enabled }}
{{- $selector = merge $selector (deepCopy (.Values.gpu.nodeSelector | default dict)) }}
{{- end }}
{{- with $selector }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{- define "tf-serving.tolerations" -}}
{{- $tolerations := .Values.tolerations | default list }}
{{- if .Values.gpu.enabled }}
{{- $tolerations = concat $tolerations (.Values.gpu.tolerations | default list) }}
{{- end }}
{{- with $tolerations }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
Deployment progress deadline: rollingUpdate.progressDeadlineSeconds, else long enough for a new
pod to use its whole startup budget (a slow model load is not a failed rollout).
*/}}
{{- define "tf-serving.progressDeadlineSeconds" -}}
{{- if .Values.rollingUpdate.progressDeadlineSeconds }}
{{- .Values.rollingUpdate.progressDeadlineSeconds }}
{{- else }}
{{- max 600 (add (int .Values.probes.startup.budgetSeconds) (int .Values.rollingUpdate.minReadySeconds) 120) }}
{{- end }}
{{- end }}
