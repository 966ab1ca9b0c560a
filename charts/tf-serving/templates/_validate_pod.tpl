{{/*
Pod: shutdown timing, rollout deadline, non-root identity, the PodDisruptionBudget, GPU flags.
*/}}
{{- define "tf-serving.validate.pod" -}}
{{- $sd := .Values.shutdown }}
{{- if le (int $sd.terminationGracePeriodSeconds) (int $sd.preStopSleepSeconds) }}
{{- fail (printf "tf-serving: shutdown.terminationGracePeriodSeconds (%d) must be greater than shutdown.preStopSleepSeconds (%d): the pause counts against the grace period, and in-flight requests need the rest; raise the grace period or shorten the pause" (int $sd.terminationGracePeriodSeconds) (int $sd.preStopSleepSeconds)) }}
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
{{- fail "tf-serving: podSecurityContext.runAsUser is not set but runAsNonRoot is true; the tensorflow/serving image has no USER (it would run as root) so the kubelet refuses to start it: set podSecurityContext.runAsUser (e.g. 1000)" }}
{{- end }}
{{- if and $nonRoot (not (kindIs "invalid" $user)) (eq (int $user) 0) }}
{{- fail "tf-serving: podSecurityContext.runAsUser (or securityContext.runAsUser) is 0 while runAsNonRoot is true; pick a non-zero user id" }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail (printf "tf-serving: podDisruptionBudget.minAvailable (%v) and podDisruptionBudget.maxUnavailable (%v) are both set; a PodDisruptionBudget takes one: set the other to null" $pdb.minAvailable $pdb.maxUnavailable) }}
{{- end }}
{{- if and (not .Values.gpu.enabled) (ne (toString .Values.gpu.perProcessGpuMemoryFraction) "<nil>") }}
{{- fail "tf-serving: gpu.perProcessGpuMemoryFraction is set but gpu.enabled is false; the flag only applies to GPU memory: enable gpu or remove it" }}
{{- end }}
{{- end }}

{{/*
Pod of one track: scheduling presets, a pinned image, the GPU image. Per track: called from validate.yaml with (dict "root" $ "track" $track "ctx" $ctx).
*/}}
{{- define "tf-serving.validate.pod.track" -}}
{{- $root := .root }}
{{- $track := .track }}
{{- $ctx := .ctx }}
{{- if and (ne $ctx.Values.scheduling.podAntiAffinity "none") $ctx.Values.affinity }}
{{- fail (printf "tf-serving: scheduling.podAntiAffinity is %q but affinity is set too (track %s); put your podAntiAffinity into affinity and set scheduling.podAntiAffinity=none" $ctx.Values.scheduling.podAntiAffinity $track) }}
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
{{- end }}
