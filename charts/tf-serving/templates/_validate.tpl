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
{{- /* ---- Autoscaling, monitoring, network policy, RBAC (issue 5) ---- */}}
{{- $a := .Values.autoscaling }}
{{- if and $a.enabled $a.keda.enabled }}
{{- fail "tf-serving: autoscaling.enabled (HPA) and autoscaling.keda.enabled are both true; KEDA creates its own HPA, so turn one of them off" }}
{{- end }}
{{- if and $a.keda.enabled (not (include "tf-serving.kedaAvailable" .)) }}
{{- fail "tf-serving: autoscaling.keda.enabled is true but the cluster does not serve keda.sh/v1alpha1 ScaledObject; install KEDA, or set autoscaling.keda.force=true when rendering offline (helm template)" }}
{{- end }}
{{- if and $a.keda.enabled (not $a.keda.serverAddress) }}
{{- fail "tf-serving: autoscaling.keda.serverAddress is empty; set the Prometheus URL KEDA queries, e.g. http://prometheus-operated.monitoring.svc:9090" }}
{{- end }}
{{- range $track := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (list $ $track $ctx) }}
{{- $ta := $ctx.Values.autoscaling }}
{{- $override := dict }}
{{- if $.Values.tracks }}{{- $override = (index $.Values.tracks $track | default dict).autoscaling | default dict }}{{- end }}
{{- if and $ta.enabled $a.keda.enabled (hasKey $override "enabled") }}
{{- fail (printf "tf-serving: tracks.%s.autoscaling.enabled is true but autoscaling.keda.enabled is true too; KEDA already scales every track, remove the track's override" $track) }}
{{- end }}
{{- if or $ta.enabled $a.keda.enabled }}
{{- if gt (int $ta.minReplicas) (int $ta.maxReplicas) }}
{{- $minPath := ternary (printf "tracks.%s.autoscaling.minReplicas" $track) "autoscaling.minReplicas" (hasKey $override "minReplicas") }}
{{- $maxPath := ternary (printf "tracks.%s.autoscaling.maxReplicas" $track) "autoscaling.maxReplicas" (hasKey $override "maxReplicas") }}
{{- fail (printf "tf-serving: %s (%d) is greater than %s (%d) for track %s; lower the minimum or raise the maximum" $minPath (int $ta.minReplicas) $maxPath (int $ta.maxReplicas) $track) }}
{{- end }}
{{- end }}
{{- if $ta.enabled }}
{{- if $ta.metrics }}
{{- range $i, $m := $ta.metrics }}
{{- $key := dict "Resource" "resource" "ContainerResource" "containerResource" "Pods" "pods" "Object" "object" "External" "external" }}
{{- $source := index $m (get $key ($m.type | toString) | default "-") }}
{{- if not (and $source (kindIs "map" $source) $source.target) }}
{{- fail (printf "tf-serving: autoscaling.metrics[%d] (type %v) has no %s.target; every metric needs a target (e.g. {type: Utilization, averageUtilization: 70})" $i $m.type (get $key ($m.type | toString) | default "<type>")) }}
{{- end }}
{{- end }}
{{- else if not (or $ta.cpu.enabled $ta.memory.enabled $ta.requestsPerSecond.enabled $ta.latency.enabled) }}
{{- fail (printf "tf-serving: autoscaling.enabled is true (track %s) but no metric is on; enable autoscaling.cpu, .memory, .requestsPerSecond or .latency, or give autoscaling.metrics" $track) }}
{{- end }}
{{- end }}
{{- end }}
{{- $m := .Values.monitoring }}
{{- if and $m.serviceMonitor.enabled $m.podMonitor.enabled }}
{{- fail "tf-serving: monitoring.serviceMonitor.enabled and monitoring.podMonitor.enabled are both true; Prometheus would scrape every pod twice, keep one" }}
{{- end }}
{{- range $kind := list "serviceMonitor" "podMonitor" }}
{{- $scrape := index $m $kind }}
{{- if and $scrape.enabled (gt (int64 (include "tf-serving.durationMillis" $scrape.scrapeTimeout)) (int64 (include "tf-serving.durationMillis" $scrape.interval))) }}
{{- fail (printf "tf-serving: monitoring.%s.scrapeTimeout (%s) is longer than monitoring.%s.interval (%s); Prometheus rejects such a scrape config, shorten the timeout" $kind $scrape.scrapeTimeout $kind $scrape.interval) }}
{{- end }}
{{- end }}
{{- if not .Values.metrics.enabled }}
{{- range $path, $on := dict "monitoring.serviceMonitor.enabled" $m.serviceMonitor.enabled "monitoring.podMonitor.enabled" $m.podMonitor.enabled "monitoring.prometheusRule.enabled" $m.prometheusRule.enabled "monitoring.dashboard.enabled" $m.dashboard.enabled "monitoring.scrapeAnnotations" $m.scrapeAnnotations "autoscaling.requestsPerSecond.enabled" (and $a.enabled $a.requestsPerSecond.enabled) "autoscaling.latency.enabled" (and $a.enabled $a.latency.enabled) "autoscaling.keda.enabled" $a.keda.enabled }}
{{- if $on }}
{{- fail (printf "tf-serving: %s is true but metrics.enabled is false, so TF Serving exports no metrics; set metrics.enabled=true or turn %s off" $path $path) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $m.dashboard.enabled (not $m.prometheusRule.enabled) }}
{{- fail "tf-serving: monitoring.dashboard.enabled is true but monitoring.prometheusRule.enabled is false; the dashboard reads the PrometheusRule's recording rules, enable both" }}
{{- end }}
{{- if and .Values.rbac.deployer.create (not .Values.rbac.deployer.subjects) }}
{{- fail "tf-serving: rbac.deployer.create is true but rbac.deployer.subjects is empty; list who promotes releases, e.g. [{kind: ServiceAccount, name: deployer, namespace: ci}]" }}
{{- end }}
{{- range $i, $s := .Values.rbac.deployer.subjects }}
{{- if and (eq $s.kind "ServiceAccount") (eq $s.name (include "tf-serving.serviceAccountName" $)) (eq ($s.namespace | default $.Release.Namespace) $.Release.Namespace) }}
{{- fail (printf "tf-serving: rbac.deployer.subjects[%d] is the serving pods' own ServiceAccount %s; the serving pods never call the Kubernetes API, bind the deployer Role to the identity that promotes releases" $i $s.name) }}
{{- end }}
{{- end }}
{{- end }}
