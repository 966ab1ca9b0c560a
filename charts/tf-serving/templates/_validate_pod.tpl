{{/*
Pod: shutdown timing (every connection closed before SIGKILL), rollout deadline, non-root identity,
the PodDisruptionBudget, GPU flags, the download container's requests within its limits.
*/}}
{{- define "tf-serving.validate.pod" -}}
{{- /* Every connection must be told to go away, and its calls finish, before SIGKILL. TF Serving
ignores SIGTERM as PID 1 and sends GOAWAY only at a connection's max age (gRPC's max-age filter:
the age times a jitter of 0.9-1.1, then the grace before it closes the connection). kube-proxy keeps
established connections to a terminating pod, and new ones may still arrive until the end of the
preStop pause: the last of them is closed 1.1 x age + grace after it. A REST request runs at most
--rest_api_timeout_in_ms. tf-serving.validate.server has checked that both gRPC values are set. */}}
{{- $sd := .Values.shutdown }}
{{- $channel := .Values.server.grpcChannelArguments }}
{{- $ageMs := index $channel "grpc.max_connection_age_ms" | int64 }}
{{- $ageGraceMs := index $channel "grpc.max_connection_age_grace_ms" | int64 }}
{{- $restMs := int64 .Values.server.restApiTimeoutInMs }}
{{- $grpcSeconds := div (add (mul 11 $ageMs) (mul 10 $ageGraceMs) 9999) 10000 }}
{{- $restSeconds := div (add $restMs 999) 1000 }}
{{- $needed := add (int64 $sd.preStopSleepSeconds) (max $grpcSeconds $restSeconds) }}
{{- if lt (int64 $sd.terminationGracePeriodSeconds) $needed }}
{{- fail (printf "tf-serving: shutdown.terminationGracePeriodSeconds (%d) must be at least %d, or a terminating pod is killed with calls in flight: shutdown.preStopSleepSeconds (%d) + the longer of the gRPC connections' end, 1.1 x server.grpcChannelArguments.grpc.max_connection_age_ms (%d) + grpc.max_connection_age_grace_ms (%d) = %d s, and a REST request, server.restApiTimeoutInMs (%d) = %d s. TF Serving ignores SIGTERM and tells a gRPC connection to go away only at its max age (+-10%%), so a connection opened during the preStop pause may carry calls that long. Raise the grace period to %d, or lower the others" (int64 $sd.terminationGracePeriodSeconds) $needed (int64 $sd.preStopSleepSeconds) $ageMs $ageGraceMs $grpcSeconds $restMs $restSeconds $needed) }}
{{- end }}
{{- $deadline := int .Values.rollingUpdate.progressDeadlineSeconds }}
{{- if and $deadline (le $deadline (int .Values.probes.startup.budgetSeconds)) }}
{{- fail (printf "tf-serving: rollingUpdate.progressDeadlineSeconds (%d) must be greater than probes.startup.budgetSeconds (%d), or a slow model load marks the rollout failed; raise it or set 0 to derive it" $deadline (int .Values.probes.startup.budgetSeconds)) }}
{{- end }}
{{- /* Security: the image has no USER, so runAsNonRoot needs an explicit non-zero runAsUser. */}}
{{- $pod := .Values.podSecurityContext | default dict }}
{{- $ctr := .Values.securityContext | default dict }}
{{- $nonRoot := or $pod.runAsNonRoot $ctr.runAsNonRoot }}
{{- $user := ternary $ctr.runAsUser $pod.runAsUser (hasKey $ctr "runAsUser") }}
{{- if and $nonRoot (kindIs "invalid" $user) }}
{{- fail "tf-serving: podSecurityContext.runAsUser is not set but runAsNonRoot is true; the tensorflow/serving image has no USER (it would run as root) so the kubelet refuses to start it: set podSecurityContext.runAsUser (e.g. 10001, the default)" }}
{{- end }}
{{- if and $nonRoot (not (kindIs "invalid" $user)) (eq (int $user) 0) }}
{{- fail "tf-serving: podSecurityContext.runAsUser (or securityContext.runAsUser) is 0 while runAsNonRoot is true; pick a non-zero user id" }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail (printf "tf-serving: podDisruptionBudget.minAvailable (%v) and podDisruptionBudget.maxUnavailable (%v) are both set; a PodDisruptionBudget takes one: set the other to null" $pdb.minAvailable $pdb.maxUnavailable) }}
{{- end }}
{{- if eq .Values.modelStorage.source "initContainer" }}
{{- include "tf-serving.validate.requestsWithinLimits" (dict "resources" (.Values.modelStorage.initContainer.resources | default dict) "path" "modelStorage.initContainer.resources" "limitPaths" dict "container" "the download container") }}
{{- end }}
{{- if and (not .Values.gpu.enabled) (ne (toString .Values.gpu.perProcessGpuMemoryFraction) "<nil>") }}
{{- fail "tf-serving: gpu.perProcessGpuMemoryFraction is set but gpu.enabled is false; the flag only applies to GPU memory: enable gpu or remove it" }}
{{- end }}
{{- end }}

{{/*
Pod of one track: scheduling presets, a pinned image, the GPU image, requests within limits, a
PodDisruptionBudget that allows an eviction. Per track: called from validate.yaml with (dict "root" $ "track" $track "ctx" $ctx).
*/}}
{{- define "tf-serving.validate.pod.track" -}}
{{- $root := .root }}
{{- $track := .track }}
{{- $ctx := .ctx }}
{{- $spread := $ctx.Values.scheduling.topologySpread }}
{{- $constraintsPath := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "topologySpreadConstraints") }}
{{- $seen := dict }}
{{- range $i, $c := $ctx.Values.topologySpreadConstraints }}
{{- $pair := printf "%s %s" $c.topologyKey $c.whenUnsatisfiable }}
{{- if hasKey $seen $pair }}
{{- fail (printf "tf-serving: %s[%d] repeats the topologyKey %s and whenUnsatisfiable %s of %s[%d]; the API server refuses a duplicate pair (validateTopologySpreadConstraints): merge the two constraints" $constraintsPath $i $c.topologyKey $c.whenUnsatisfiable $constraintsPath (get $seen $pair)) }}
{{- end }}
{{- $_ := set $seen $pair $i }}
{{- if and $spread.enabled (has $c.topologyKey $spread.topologyKeys) (eq $c.whenUnsatisfiable $spread.whenUnsatisfiable) }}
{{- fail (printf "tf-serving: %s[%d] spreads over %s with whenUnsatisfiable %s, as scheduling.topologySpread already does; the API server refuses a duplicate topologyKey and whenUnsatisfiable pair: drop %s from scheduling.topologySpread.topologyKeys (or set scheduling.topologySpread.enabled=false) to use your own" $constraintsPath $i $c.topologyKey $c.whenUnsatisfiable $c.topologyKey) }}
{{- end }}
{{- end }}
{{- /* A moving tag: each pod (re)start may pull another release than its neighbours run. */}}
{{- if and (has $ctx.Values.image.tag (list "latest" "latest-gpu")) (not $ctx.Values.image.digest) }}
{{- fail (printf "tf-serving: %s is %q, which moves: pods started at different times would run different TF Serving releases (and flags checked for one). Pin a release tag (leave it empty for %s) or set image.digest" (include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "image.tag")) $ctx.Values.image.tag $root.Chart.AppVersion) }}
{{- end }}
{{- /* GPU: the CPU image cannot use the GPU; a pinned digest cannot be checked, so it is trusted. */}}
{{- $image := $ctx.Values.image }}
{{- if and $ctx.Values.gpu.enabled $image.tag (not $image.digest) (not (hasSuffix "-gpu" $image.tag)) }}
{{- $path := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "image.tag") }}
{{- fail (printf "tf-serving: %s %q is a CPU image but gpu.enabled is true; use the %q tag (or leave image.tag empty to get %s-gpu)" $path $image.tag (printf "%s-gpu" $image.tag) $root.Chart.AppVersion) }}
{{- end }}
{{- /* Requests within limits, as the container gets them (the track's resources, the GPU limit):
the API server refuses the pods otherwise, and only when the ReplicaSet creates them. */}}
{{- $resources := include "tf-serving.containerResources" $ctx | fromJson }}
{{- $resourcesPath := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "resources") }}
{{- $limitPaths := dict }}
{{- if $ctx.Values.gpu.enabled }}
{{- $_ := set $limitPaths $ctx.Values.gpu.resourceName (include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "gpu.count")) }}
{{- end }}
{{- include "tf-serving.validate.requestsWithinLimits" (dict "resources" $resources "path" $resourcesPath "limitPaths" $limitPaths "container" (printf "the server container of track %s" $track)) }}
{{- /* A budget that never allows an eviction blocks every node drain. The disruption controller
rounds percentages up, for minAvailable and maxUnavailable alike; an autoscaled track is counted
at its minimum. A track at 0 replicas has no pod to protect. */}}
{{- $pdb := $ctx.Values.podDisruptionBudget }}
{{- if $pdb.enabled }}
{{- $replicas := int $ctx.Values.replicaCount }}
{{- $replicasPath := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "replicaCount") }}
{{- if include "tf-serving.autoscaled" $ctx }}
{{- $replicas = int $ctx.Values.autoscaling.minReplicas }}
{{- $replicasPath = include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" "autoscaling.minReplicas") }}
{{- end }}
{{- $key := ternary "maxUnavailable" "minAvailable" (kindIs "invalid" $pdb.minAvailable) }}
{{- $budget := index $pdb $key }}
{{- if kindIs "invalid" $budget }}
{{- $budget = 1 }}
{{- end }}
{{- $pods := int $budget }}
{{- if kindIs "string" $budget }}
{{- $pods = div (add (mul (trimSuffix "%" $budget | int) $replicas) 99) 100 | int }}
{{- end }}
{{- $evictable := ternary (min $pods $replicas) (sub $replicas $pods) (eq $key "maxUnavailable") }}
{{- if and (gt $replicas 0) (le (int $evictable) 0) }}
{{- $path := include "tf-serving.trackValuePath" (dict "root" $root "track" $track "key" (printf "podDisruptionBudget.%s" $key)) }}
{{- if eq $key "maxUnavailable" }}
{{- fail (printf "tf-serving: %s (%v) never allows an eviction of track %s's pods, so node drains and cluster upgrades hang on them; set it to at least 1 (or a percentage above 0)" $path $budget $track) }}
{{- end }}
{{- if eq $replicas 1 }}
{{- fail (printf "tf-serving: %s (%v) protects the only pod of track %s (%s is 1), so it can never be evicted and node drains and cluster upgrades hang on it; raise %s to 2 or more, or set %s to null and podDisruptionBudget.maxUnavailable to 1 (the pod is then evicted in a drain)" $path $budget $track $replicasPath $replicasPath $path) }}
{{- end }}
{{- fail (printf "tf-serving: %s (%v) of the %d pods of track %s (%s) leaves none to evict, so node drains and cluster upgrades hang on them; set it to %d or less (a percentage is rounded up), or set it to null and podDisruptionBudget.maxUnavailable to 1, or raise %s" $path $budget $replicas $track $replicasPath (sub $replicas 1) $replicasPath) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Requests within limits of one container, compared as quantities (tf-serving.quantityMilli):
(dict "resources" $resources "path" "resources" "limitPaths" (dict "nvidia.com/gpu" "gpu.count") "container" "...").
`limitPaths` names the value a limit comes from when it is not `<path>.limits.<name>`.
*/}}
{{- define "tf-serving.validate.requestsWithinLimits" -}}
{{- $path := .path }}
{{- $limitPaths := .limitPaths }}
{{- $container := .container }}
{{- $limits := .resources.limits | default dict }}
{{- range $name, $request := .resources.requests | default dict }}
{{- $limit := index $limits $name }}
{{- if and (hasKey $limits $name) (not (kindIs "invalid" $request)) (not (kindIs "invalid" $limit)) }}
{{- $requestPath := printf "%s.requests.%s" $path $name }}
{{- $limitPath := get $limitPaths $name | default (printf "%s.limits.%s" $path $name) }}
{{- $requested := include "tf-serving.quantityMilli" (dict "quantity" $request "path" $requestPath) | float64 }}
{{- $allowed := include "tf-serving.quantityMilli" (dict "quantity" $limit "path" $limitPath) | float64 }}
{{- if gt $requested $allowed }}
{{- fail (printf "tf-serving: %s (%v) is more than %s (%v), for %s; the API server refuses a request above its limit (the pods are never created): lower the request or raise the limit" $requestPath $request $limitPath $limit $container) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
