{{/*
Model storage: exactly one source, its required fields, what the cluster supports, mount paths,
claim access modes.
*/}}
{{- define "tf-serving.validate.storage" -}}
{{- $ms := .Values.modelStorage }}
{{- $src := $ms.source }}
{{- $markers := list
  (list "existingClaim" "existingClaim.claimName" $ms.existingClaim.claimName)
  (list "existingClaim" "existingClaim.subPath" $ms.existingClaim.subPath)
  (list "nfs" "nfs.server" $ms.nfs.server)
  (list "nfs" "nfs.path" $ms.nfs.path)
  (list "s3" "s3.existingSecret" $ms.s3.existingSecret)
  (list "s3" "s3.region" $ms.s3.region)
  (list "s3" "s3.endpoint" $ms.s3.endpoint)
  (list "gcs" "gcs.existingSecret" $ms.gcs.existingSecret)
  (list "initContainer" "initContainer.image.repository" $ms.initContainer.image.repository)
  (list "image" "image.reference" $ms.image.reference) }}
{{- range $markers }}
{{- if and (index . 2) (ne (index . 0) $src) }}
{{- fail (printf "tf-serving: modelStorage.%s is set but modelStorage.source is %q; only one model source can be used: set modelStorage.source to %q or remove modelStorage.%s" (index . 1) $src (index . 0) (index . 1)) }}
{{- end }}
{{- end }}
{{- $required := dict
  "existingClaim" (list (list "existingClaim.claimName" $ms.existingClaim.claimName))
  "nfs" (list (list "nfs.server" $ms.nfs.server) (list "nfs.path" $ms.nfs.path))
  "initContainer" (list (list "initContainer.image.repository" $ms.initContainer.image.repository) (list "initContainer.command" $ms.initContainer.command))
  "image" (list (list "image.reference" $ms.image.reference)) }}
{{- range (get $required $src | default list) }}
{{- if not (index . 1) }}
{{- fail (printf "tf-serving: modelStorage.%s is required when modelStorage.source is %q" (index . 0) $src) }}
{{- end }}
{{- end }}
{{- if and (eq $src "s3") (not $ms.s3.serverSupportsS3) }}
{{- fail "tf-serving: modelStorage.source is s3 but modelStorage.s3.serverSupportsS3 is false; the stock tensorflow/serving images since 2.7 cannot read s3:// (\"File system scheme 's3' not implemented\", tensorflow/serving#1963): use an image built with TensorFlow's S3 file system and set modelStorage.s3.serverSupportsS3 true, or download with modelStorage.source initContainer" }}
{{- end }}
{{- if and (eq $src "image") (not (semverCompare ">=1.31.0-0" .Capabilities.KubeVersion.Version)) }}
{{- fail (printf "tf-serving: modelStorage.source \"image\" needs the Kubernetes image volume (1.31+; the ImageVolume feature gate is on by default only from 1.35), but the cluster is %s; use modelStorage.source initContainer or a PVC on this cluster" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- /* 1.31-1.34 API servers without the ImageVolume gate drop the volume from the stored Deployment without an error. */}}
{{- if and (eq $src "image") (semverCompare ">=1.31.0-0 <1.35.0-0" .Capabilities.KubeVersion.Version) (not $ms.image.featureGateEnabled) }}
{{- fail (printf "tf-serving: modelStorage.source \"image\" on Kubernetes %s needs the ImageVolume feature gate, which is off by default before 1.35; without it the API server silently drops the image volume and the server starts with no models. Turn the gate on (kube-apiserver and kubelets) and set modelStorage.image.featureGateEnabled=true, or use modelStorage.source initContainer or a PVC" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- if eq (trimSuffix "/" $ms.mountPath) (trimSuffix "/" .Values.server.configMountPath) }}
{{- fail (printf "tf-serving: modelStorage.mountPath and server.configMountPath are both %s; mount the models elsewhere" $ms.mountPath) }}
{{- end }}
{{- /* The server container's mounts: two on one path are refused by the API server, and a mount
inside a ConfigMap or Secret volume cannot be created (that read-only directory holds only the
keys). `value` is the value that moves the mount; /tmp and the key Secret's path are fixed. */}}
{{- $mounts := list (dict "path" .Values.server.configMountPath "value" "server.configMountPath" "what" "the models.config ConfigMap" "keysOnly" true) (dict "path" "/tmp" "value" "" "what" "the server's /tmp scratch emptyDir") }}
{{- if include "tf-serving.modelStorageIsLocal" . }}
{{- $mounts = append $mounts (dict "path" $ms.mountPath "value" "modelStorage.mountPath" "what" (printf "the models (modelStorage.source %s)" $src)) }}
{{- end }}
{{- if and (eq $src "gcs") $ms.gcs.existingSecret }}
{{- $mounts = append $mounts (dict "path" "/var/run/secrets/tf-serving/gcs" "value" "" "what" "the modelStorage.gcs.existingSecret key file" "keysOnly" true) }}
{{- end }}
{{- range $i, $a := $mounts }}
{{- range $j, $b := $mounts }}
{{- $pa := trimSuffix "/" $a.path }}
{{- $pb := trimSuffix "/" $b.path }}
{{- if and (lt $i $j) (eq $pa $pb) }}
{{- $value := $a.value | default $b.value }}
{{- fail (printf "tf-serving: %s %s mounts %s where %s is mounted; the API server refuses two volumes on one mount path: set %s to another directory" $value $a.path (ternary $a.what $b.what (eq $value $a.value)) (ternary $b.what $a.what (eq $value $a.value)) $value) }}
{{- end }}
{{- if and $b.keysOnly (ne $i $j) (hasPrefix (printf "%s/" $pb) $pa) }}
{{- $value := $a.value | default $b.value }}
{{- fail (printf "tf-serving: %s %s (%s) is inside %s %s (%s), a read-only volume that holds only its keys, so the mount point cannot be created and the pod never starts: set %s to a directory outside it" ($a.value | default "the fixed mount") $a.path $a.what ($b.value | default "the fixed mount") $b.path $b.what $value) }}
{{- end }}
{{- end }}
{{- end }}
{{- $ms := .Values.modelStorage }}
{{- $modes := $ms.pvc.accessModes | default list }}
{{- if and (eq $ms.source "pvc") (has "ReadWriteOncePod" $modes) }}
{{- fail "tf-serving: modelStorage.pvc.accessModes has ReadWriteOncePod; every rollout starts a surge pod while the old pod (maxUnavailable 0) still holds the claim, so the new pod can never mount it and the rollout deadlocks: use [ReadWriteMany] (or ReadOnlyMany)" }}
{{- end }}
{{- end }}

{{/*
Base paths of one track's models match the storage source; adds the track's pods to .claimUsers
(dict "replicas" N "reasons" list) for tf-serving.validate.storage.claim. Per track: called from validate.yaml with (dict "root" $ "track" $track "ctx" $ctx "claimUsers" $users).
*/}}
{{- define "tf-serving.validate.storage.track" -}}
{{- $root := .root }}
{{- $track := .track }}
{{- $ctx := .ctx }}
{{- $ms := $root.Values.modelStorage }}
{{- $src := $ms.source }}
{{- $local := include "tf-serving.modelStorageIsLocal" $root }}
{{- $where := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "models") }}
{{- /* The demo serves exactly the default model list: any other list (a track's or colour's own
too) means models the user expects from somewhere else, which the demo ConfigMap, mounted over
modelStorage.mountPath, would hide. Since 0.5.0 demo is the default, so this is also what tells a
user upgrading with models in an image (source none was the default) what to set. */}}
{{- if eq $src "demo" }}
{{- $demo := include "tf-serving.demoModels" $root | fromJsonArray }}
{{- $given := list }}
{{- $named := list }}
{{- range $ctx.Values.models }}
{{- $given = append $given (merge (dict) . (dict "platform" "tensorflow")) }}
{{- $named = append $named (printf "%s at %s" .name .basePath) }}
{{- end }}
{{- if ne (toJson $given) (toJson $demo) }}
{{- $d := first $demo }}
{{- fail (printf "tf-serving: %s (%s) is not the built-in demo, but modelStorage.source is \"demo\" (the default since chart 0.5.0), which serves only %s at %s from a ConfigMap mounted over %s, so your models would never be found. Set modelStorage.source to where they are: existingClaim, pvc, nfs, s3, gcs, initContainer, image, or none when the server image itself holds every basePath (the default before 0.5.0). To serve the demo instead, %s must be the default [{name: %s, basePath: %s, platform: tensorflow}], without versionPolicy or versionLabels" $where (join ", " $named | default "empty") $d.name $d.basePath $ms.mountPath $where $d.name $d.basePath) }}
{{- end }}
{{- end }}
{{- range $i, $m := $ctx.Values.models }}
{{- if and (eq $src "s3") (not (hasPrefix "s3://" $m.basePath)) }}
{{- fail (printf "tf-serving: %s[%d].basePath %q must be an s3:// URL when modelStorage.source is s3 (the server reads the bucket itself)" $where $i $m.basePath) }}
{{- end }}
{{- if and (eq $src "gcs") (not (hasPrefix "gs://" $m.basePath)) }}
{{- fail (printf "tf-serving: %s[%d].basePath %q must be a gs:// URL when modelStorage.source is gcs (the server reads the bucket itself)" $where $i $m.basePath) }}
{{- end }}
{{- if and $local (not (hasPrefix (printf "%s/" (trimSuffix "/" $ms.mountPath)) $m.basePath)) }}
{{- fail (printf "tf-serving: %s[%d].basePath %q is not under modelStorage.mountPath %q, where modelStorage.source %s mounts the models; use a path like %s/%s" $where $i $m.basePath $ms.mountPath $src (trimSuffix "/" $ms.mountPath) $m.name) }}
{{- end }}
{{- end }}
{{- $users := .claimUsers }}
{{- $_ := set $users "replicas" (add $users.replicas (int $ctx.Values.replicaCount)) }}
{{- if $ctx.Values.autoscaling.enabled }}
{{- $_ := set $users "reasons" (append $users.reasons (printf "track %s is autoscaled (%s)" $track (include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "autoscaling.enabled")))) }}
{{- end }}
{{- end }}

{{/*
A ReadWriteOnce model claim that more than one pod may mount, after every track has added its pods:
(dict "root" $ "claimUsers" $users).
*/}}
{{- define "tf-serving.validate.storage.claim" -}}
{{- $root := .root }}
{{- $ms := $root.Values.modelStorage }}
{{- $modes := $ms.pvc.accessModes | default list }}
{{- if and (eq $ms.source "pvc") (has "ReadWriteOnce" $modes) (not (has "ReadWriteMany" $modes)) (not (has "ReadOnlyMany" $modes)) (not $ms.pvc.allowReadWriteOnce) }}
{{- $reasons := .claimUsers.reasons }}
{{- $replicas := .claimUsers.replicas }}
{{- if gt (int $replicas) 1 }}
{{- $reasons = prepend $reasons (printf "the tracks run %d pods (replicaCount)" (int $replicas)) }}
{{- end }}
{{- if $root.Values.autoscaling.keda.enabled }}
{{- $reasons = append $reasons "KEDA scales the tracks (autoscaling.keda.enabled)" }}
{{- end }}
{{- /* The schema keeps rollingUpdate.maxSurge >= 1 (maxUnavailable is always 0), so there is always a surge pod. */}}
{{- $reasons = append $reasons (printf "every rollout starts a surge pod next to the old ones (rollingUpdate.maxSurge %v, maxUnavailable 0)" $root.Values.rollingUpdate.maxSurge) }}
{{- fail (printf "tf-serving: modelStorage.pvc.accessModes is %v, but more than one pod may mount the claim: %s. A ReadWriteOnce volume attaches to one node, so a pod on another node hangs on Multi-Attach and the rollout stalls: use [ReadWriteMany] (or ReadOnlyMany), or on a single node cluster only set modelStorage.pvc.allowReadWriteOnce=true" $modes (join "; " $reasons)) }}
{{- end }}
{{- end }}
