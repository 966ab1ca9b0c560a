{{/*
Cross-field checks that the JSON schema cannot express. Each message names the value path and
says what to do. Included once, from configmap.yaml, so a bad combination fails the whole render.
*/}}
{{- define "tf-serving.validate" -}}
{{- if eq (int .Values.server.grpcPort) (int .Values.server.restPort) }}
{{- fail (printf "tf-serving: server.grpcPort and server.restPort are both %d; gRPC and REST need different ports" (int .Values.server.grpcPort)) }}
{{- end }}
{{- $tracks := include "tf-serving.trackNames" . | fromJsonArray }}
{{- if and .Values.primaryTrack (not (has .Values.primaryTrack $tracks)) }}
{{- fail (printf "tf-serving: primaryTrack %q is not one of the tracks %v; name a key of tracks or leave it empty" .Values.primaryTrack $tracks) }}
{{- end }}
{{- /* ---- Deployment variants and traffic (issue 4): blue/green, canary, Ingress, Gateway API, PDB, scheduling ---- */}}
{{- $bg := .Values.blueGreen }}
{{- if and $bg.enabled .Values.tracks }}
{{- fail (printf "tf-serving: blueGreen.enabled and tracks (%v) are both set; blue/green makes the tracks blue and green itself: move per-track overrides to blueGreen.blue / blueGreen.green and empty tracks" (keys .Values.tracks | sortAlpha)) }}
{{- end }}
{{- if and $bg.enabled .Values.primaryTrack }}
{{- fail (printf "tf-serving: primaryTrack %q is set with blueGreen.enabled; the primary is blueGreen.active: empty primaryTrack" .Values.primaryTrack) }}
{{- end }}
{{- $primaryTrack := include "tf-serving.primaryTrack" . }}
{{- $c := .Values.canary }}
{{- if $c.enabled }}
{{- if lt (len $tracks) 2 }}
{{- fail (printf "tf-serving: canary.enabled needs a canary track but there is only %v; add tracks.%s (and tracks.<stable> as primaryTrack) or enable blueGreen" $tracks $c.track) }}
{{- end }}
{{- if not (has $c.track $tracks) }}
{{- fail (printf "tf-serving: canary.track %q is not one of the tracks %v; add tracks.%s or point canary.track at an existing track" $c.track $tracks $c.track) }}
{{- end }}
{{- if eq $c.track $primaryTrack }}
{{- fail (printf "tf-serving: canary.track %q is the primary track, so the canary would split traffic with itself; set canary.track to another track (with blueGreen: the idle colour)" $c.track) }}
{{- end }}
{{- $canaryCtx := dict }}
{{- include "tf-serving.trackContext" (list $ $c.track $canaryCtx) }}
{{- if and (gt (int $c.weight) 0) (eq (int $canaryCtx.Values.replicaCount) 0) }}
{{- fail (printf "tf-serving: canary.weight is %d but track %q has replicaCount 0, so its share of requests would fail with 503; scale the track up, wait for `kubectl rollout status`, then move the weight" (int $c.weight) $c.track) }}
{{- end }}
{{- if not (or .Values.ingress.enabled .Values.gatewayApi.enabled) }}
{{- fail "tf-serving: canary.enabled splits traffic through an Ingress or Gateway API routes, and neither is on; set ingress.enabled or gatewayApi.enabled (the track Services alone split nothing)" }}
{{- end }}
{{- if and $c.cookie (not .Values.ingress.enabled) }}
{{- fail (printf "tf-serving: canary.cookie %q only works with ingress-nginx (ingress.enabled); Gateway API has no cookie match: use canary.header instead" $c.cookie) }}
{{- end }}
{{- end }}
{{- if $c.header.name }}
{{- if and $c.header.value $c.header.pattern }}
{{- fail "tf-serving: canary.header.value and canary.header.pattern are both set; set one (exact value or regular expression)" }}
{{- end }}
{{- if not (or $c.header.value $c.header.pattern) }}
{{- fail (printf "tf-serving: canary.header.name %q has no canary.header.value nor canary.header.pattern; set the value (or pattern) that sends a request to the canary" $c.header.name) }}
{{- end }}
{{- else if or $c.header.value $c.header.pattern }}
{{- fail "tf-serving: canary.header.value/pattern is set without canary.header.name; name the header" }}
{{- end }}
{{- $ing := .Values.ingress }}
{{- $ingressHosts := list }}
{{- if $ing.enabled }}
{{- if and $ing.tls.enabled (not $ing.tls.secretName) }}
{{- fail "tf-serving: ingress.tls.enabled needs ingress.tls.secretName (a kubernetes.io/tls Secret for the Ingress hosts)" }}
{{- end }}
{{- with $ing.host }}{{ $ingressHosts = append $ingressHosts . }}{{ end }}
{{- if $ing.grpc.enabled }}
{{- if not $ing.grpc.host }}
{{- fail "tf-serving: ingress.grpc.enabled needs ingress.grpc.host: the gRPC Ingress needs a host of its own (one Ingress has one backend protocol)" }}
{{- end }}
{{- if eq $ing.grpc.host $ing.host }}
{{- fail (printf "tf-serving: ingress.grpc.host and ingress.host are both %q; a host has one backend protocol in ingress-nginx: give gRPC its own host" $ing.host) }}
{{- end }}
{{- $ingressHosts = append $ingressHosts $ing.grpc.host }}
{{- end }}
{{- end }}
{{- $g := .Values.gatewayApi }}
{{- if $g.enabled }}
{{- if not $g.parentRefs }}
{{- fail "tf-serving: gatewayApi.enabled needs gatewayApi.parentRefs: name the Gateway(s) the routes attach to, e.g. [{name: public, namespace: gateways}]" }}
{{- end }}
{{- $routeHosts := list }}
{{- $http := include "tf-serving.gatewayRouteEnabled" (list $ "HTTPRoute") }}
{{- $grpc := include "tf-serving.gatewayRouteEnabled" (list $ "GRPCRoute") }}
{{- if $http }}{{ $routeHosts = concat $routeHosts $g.http.hostnames }}{{ end }}
{{- if $grpc }}{{ $routeHosts = concat $routeHosts $g.grpc.hostnames }}{{ end }}
{{- if and $http $grpc }}
{{- if or (not $g.http.hostnames) (not $g.grpc.hostnames) }}
{{- fail "tf-serving: gatewayApi.http.hostnames and gatewayApi.grpc.hostnames must both be set when both routes are on: an HTTPRoute and a GRPCRoute with intersecting hostnames on one listener conflict (only one is accepted); give each its own hostname or turn one off" }}
{{- end }}
{{- range $g.grpc.hostnames }}
{{- if has . $g.http.hostnames }}
{{- fail (printf "tf-serving: %q is in gatewayApi.http.hostnames and gatewayApi.grpc.hostnames; an HTTPRoute and a GRPCRoute on one hostname conflict (only one is accepted): give gRPC its own hostname" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- if not $g.allowHostsSharedWithIngress }}
{{- range $host := $ingressHosts }}
{{- range $routeHost := $routeHosts }}
{{- if or (eq $host $routeHost) (and (hasPrefix "*." $routeHost) (hasSuffix (trimPrefix "*" $routeHost) $host)) (and (hasPrefix "*." $host) (hasSuffix (trimPrefix "*" $host) $routeHost)) }}
{{- fail (printf "tf-serving: host %q is claimed by both the Ingress (ingress.host / ingress.grpc.host) and a Gateway API route (gatewayApi.*.hostnames %q); use one per host, or set gatewayApi.allowHostsSharedWithIngress=true while migrating DNS" $host $routeHost) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $pdb := .Values.podDisruptionBudget }}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail (printf "tf-serving: podDisruptionBudget.minAvailable (%v) and podDisruptionBudget.maxUnavailable (%v) are both set; a PodDisruptionBudget takes one: set the other to null" $pdb.minAvailable $pdb.maxUnavailable) }}
{{- end }}
{{- range $track := $tracks }}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (list $ $track $ctx) }}
{{- if and (ne $ctx.Values.scheduling.podAntiAffinity "none") $ctx.Values.affinity }}
{{- fail (printf "tf-serving: scheduling.podAntiAffinity is %q but affinity is set too (track %s); put your podAntiAffinity into affinity and set scheduling.podAntiAffinity=none" $ctx.Values.scheduling.podAntiAffinity $track) }}
{{- end }}
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
{{- $enabledPath := include "tf-serving.trackValuePath" (list $ $track "autoscaling.enabled") }}
{{- if and $ta.enabled $a.keda.enabled (ne $enabledPath "autoscaling.enabled") }}
{{- fail (printf "tf-serving: %s is true but autoscaling.keda.enabled is true too; KEDA already scales every track, remove the track's override" $enabledPath) }}
{{- end }}
{{- if or $ta.enabled $a.keda.enabled }}
{{- if gt (int $ta.minReplicas) (int $ta.maxReplicas) }}
{{- $minPath := include "tf-serving.trackValuePath" (list $ $track "autoscaling.minReplicas") }}
{{- $maxPath := include "tf-serving.trackValuePath" (list $ $track "autoscaling.maxReplicas") }}
{{- fail (printf "tf-serving: %s (%d) is greater than %s (%d) for track %s; lower the minimum or raise the maximum" $minPath (int $ta.minReplicas) $maxPath (int $ta.maxReplicas) $track) }}
{{- end }}
{{- end }}
{{- if $ta.enabled }}
{{- if $ta.metrics }}
{{- range $i, $m := $ta.metrics }}
{{- $key := dict "Resource" "resource" "ContainerResource" "containerResource" "Pods" "pods" "Object" "object" "External" "external" }}
{{- $source := index $m (get $key ($m.type | toString) | default "-") }}
{{- if not (and $source (kindIs "map" $source) $source.target) }}
{{- fail (printf "tf-serving: %s[%d] (type %v) has no %s.target; every metric needs a target (e.g. {type: Utilization, averageUtilization: 70})" (include "tf-serving.trackValuePath" (list $ $track "autoscaling.metrics")) $i $m.type (get $key ($m.type | toString) | default "<type>")) }}
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
{{- include "tf-serving.validateExposureAndAlerts" . }}
{{- include "tf-serving.validateServerConfig" . }}
{{- include "tf-serving.validateServerArgs" . }}
{{- /* ---- Pod (issue 3): probes, shutdown, security, model storage, GPU ---- */}}
{{- include "tf-serving.validatePod" . }}
{{- /* ---- Review fixes: model lists of tracks/colours, remote base paths, ingress gRPC, scrape, PVC ---- */}}
{{- include "tf-serving.validateModelLists" . }}
{{- include "tf-serving.validateCombinations" . }}
{{- end }}

{{/*
Server config (issue 3, server half): models' version policies and labels (checked for the
top-level models and for every track that overrides them), batching. Included from tf-serving.validate.
*/}}
{{- define "tf-serving.validateServerConfig" -}}
{{- $root := . }}
{{- range $track := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $prefix := include "tf-serving.modelsValuePath" (list $root $track) }}
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
{{- /* SharedBatchScheduler::AddQueue (TensorFlow, batching_util/shared_batch_scheduler.h) refuses a queue whose
max_execution_batch_size exceeds its max_batch_size when splitting is on. */}}
{{- if gt $execution $max }}
{{- fail (printf "tf-serving: batching.maxExecutionBatchSize (%d) must be at most batching.maxBatchSize (%d): requests up to maxBatchSize are split into batches of at most maxExecutionBatchSize, and TF Serving refuses to load a model otherwise; lower it or raise batching.maxBatchSize" $execution $max) }}
{{- end }}
{{- with $b.allowedBatchSizes }}
{{- $sizes := list }}
{{- range . }}
{{- $sizes = append $sizes (int64 .) }}
{{- end }}
{{- /* The server does not check the order on this path, but pads a batch to the first size that fits
(RoundToLowestAllowedBatchSize, batching/batching_util.cc), so an unsorted list pads wrongly. */}}
{{- $previous := int64 0 }}
{{- range $sizes }}
{{- if le . $previous }}
{{- fail (printf "tf-serving: batching.allowedBatchSizes must be strictly increasing, got %v: batches are padded to the first size that fits; sort them and drop duplicates" $sizes) }}
{{- end }}
{{- $previous = . }}
{{- end }}
{{- /* WrapSessionForBatching (servables/tensorflow/bundle_factory_util.cc), the path the model
server takes, refuses a list whose last entry is not max_batch_size, with or without splitting. */}}
{{- $last := last $sizes }}
{{- if ne $last $max }}
{{- fail (printf "tf-serving: batching.allowedBatchSizes must end with batching.maxBatchSize (%d), got %v: TF Serving refuses any other last entry when it loads a model (\"Last entry in allowed_batch_sizes must match max_batch_size\"), with or without large batch splitting; append %d or set batching.maxBatchSize to %d" $max $sizes $max $last) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Checks of the pod values: shutdown timing, non-root identity, model storage, GPU. Track values
(models, image) are checked per track.
*/}}
{{- define "tf-serving.validatePod" -}}
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
{{- /* Model storage: exactly one source, its required fields, base paths that match it. */}}
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
{{- $local := include "tf-serving.modelStorageIsLocal" . }}
{{- $root := . }}
{{- range $track := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (list $root $track $ctx) }}
{{- $where := include "tf-serving.modelsValuePath" (list $root $track) }}
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
{{- /* A moving tag: each pod (re)start may pull another release than its neighbours run. */}}
{{- if and (has $ctx.Values.image.tag (list "latest" "latest-gpu")) (not $ctx.Values.image.digest) }}
{{- fail (printf "tf-serving: %s is %q, which moves: pods started at different times would run different TF Serving releases (and flags checked for one). Pin a release tag (leave it empty for %s) or set image.digest" (include "tf-serving.trackValuePath" (list $root $track "image.tag")) $ctx.Values.image.tag $root.Chart.AppVersion) }}
{{- end }}
{{- /* GPU: the CPU image cannot use the GPU; a pinned digest cannot be checked, so it is trusted. */}}
{{- $image := $ctx.Values.image }}
{{- if and $ctx.Values.gpu.enabled $image.tag (not $image.digest) (not (hasSuffix "-gpu" $image.tag)) }}
{{- $path := include "tf-serving.trackValuePath" (list $root $track "image.tag") }}
{{- fail (printf "tf-serving: %s %q is a CPU image but gpu.enabled is true; use the %q tag (or leave image.tag empty to get %s-gpu)" $path $image.tag (printf "%s-gpu" $image.tag) $root.Chart.AppVersion) }}
{{- end }}
{{- end }}
{{- if and (not .Values.gpu.enabled) (ne (toString .Values.gpu.perProcessGpuMemoryFraction) "<nil>") }}
{{- fail "tf-serving: gpu.perProcessGpuMemoryFraction is set but gpu.enabled is false; the flag only applies to GPU memory: enable gpu or remove it" }}
{{- end }}
{{- end }}

{{/*
Every model list the chart may serve (the top-level `models` and each track's or blue/green
colour's override), with its real value path: unique names, and `s3://` / `gs://` base paths only
with the storage source that reads them (credentials, egress, and for S3 an image that can).
*/}}
{{- define "tf-serving.validateModelLists" -}}
{{- $root := . }}
{{- $lists := list (list "models" .Values.models) }}
{{- range $track := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $path := include "tf-serving.modelsValuePath" (list $root $track) }}
{{- if ne $path "models" }}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (list $root $track $ctx) }}
{{- $lists = append $lists (list $path $ctx.Values.models) }}
{{- end }}
{{- end }}
{{- $src := .Values.modelStorage.source }}
{{- range $lists }}
{{- $path := index . 0 }}
{{- $names := dict }}
{{- range $i, $m := index . 1 }}
{{- if hasKey $names $m.name }}
{{- fail (printf "tf-serving: %s[%d].name %q is already used by %s[%d]; model names must be unique within a list: rename one or remove the duplicate" $path $i $m.name $path (get $names $m.name)) }}
{{- end }}
{{- $_ := set $names $m.name $i }}
{{- if and (hasPrefix "s3://" $m.basePath) (ne $src "s3") }}
{{- fail (printf "tf-serving: %s[%d].basePath %q is an s3:// URL but modelStorage.source is %q; the server can only read it with modelStorage.source=s3 (credentials, and modelStorage.s3.serverSupportsS3=true with an image built with TensorFlow's S3 file system: the stock images cannot), or download it with modelStorage.source=initContainer and use a path under modelStorage.mountPath (chart 0.1.0 rendered this and the server failed at load time: see Upgrading in the chart README)" $path $i $m.basePath $src) }}
{{- end }}
{{- if and (hasPrefix "gs://" $m.basePath) (ne $src "gcs") }}
{{- fail (printf "tf-serving: %s[%d].basePath %q is a gs:// URL but modelStorage.source is %q; set modelStorage.source=gcs (credentials from modelStorage.gcs.existingSecret, or workload identity through serviceAccount.annotations when it is empty), or download it with modelStorage.source=initContainer and use a path under modelStorage.mountPath (chart 0.1.0 rendered this: see Upgrading in the chart README)" $path $i $m.basePath $src) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Value combinations that render but do not work: plaintext gRPC through ingress-nginx, a pod scraped
twice, a ReadWriteOnce model claim that several pods (on several nodes) need.
*/}}
{{- define "tf-serving.validateCombinations" -}}
{{- $ing := .Values.ingress }}
{{- if and $ing.enabled $ing.grpc.enabled (not $ing.tls.enabled) }}
{{- fail "tf-serving: ingress.grpc.enabled needs ingress.tls.enabled=true (with ingress.tls.secretName covering ingress.grpc.host): ingress-nginx speaks HTTP/2, which gRPC needs, only on its TLS listeners, so gRPC clients would fail; enable TLS, or use gatewayApi (GRPCRoute) instead" }}
{{- end }}
{{- $m := .Values.monitoring }}
{{- range $kind := list "serviceMonitor" "podMonitor" }}
{{- if and $m.scrapeAnnotations (index $m $kind).enabled }}
{{- fail (printf "tf-serving: monitoring.scrapeAnnotations and monitoring.%s.enabled are both true; Prometheus would scrape every pod twice (the annotation job and the %s), doubling the request rates that KEDA, the prometheus-adapter rules and the alerts read: set monitoring.scrapeAnnotations=false (or turn the %s off)" $kind (ternary "ServiceMonitor" "PodMonitor" (eq $kind "serviceMonitor")) $kind) }}
{{- end }}
{{- end }}
{{- $ms := .Values.modelStorage }}
{{- $modes := $ms.pvc.accessModes | default list }}
{{- if and (eq $ms.source "pvc") (has "ReadWriteOncePod" $modes) }}
{{- fail "tf-serving: modelStorage.pvc.accessModes has ReadWriteOncePod; every rollout starts a surge pod while the old pod (maxUnavailable 0) still holds the claim, so the new pod can never mount it and the rollout deadlocks: use [ReadWriteMany] (or ReadOnlyMany)" }}
{{- end }}
{{- if and (eq $ms.source "pvc") (has "ReadWriteOnce" $modes) (not (has "ReadWriteMany" $modes)) (not (has "ReadOnlyMany" $modes)) (not $ms.pvc.allowReadWriteOnce) }}
{{- $reasons := list }}
{{- $replicas := 0 }}
{{- $root := . }}
{{- range $track := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (list $root $track $ctx) }}
{{- $replicas = add $replicas (int $ctx.Values.replicaCount) }}
{{- if $ctx.Values.autoscaling.enabled }}
{{- $reasons = append $reasons (printf "track %s is autoscaled (%s)" $track (include "tf-serving.trackValuePath" (list $root $track "autoscaling.enabled"))) }}
{{- end }}
{{- end }}
{{- if gt (int $replicas) 1 }}
{{- $reasons = prepend $reasons (printf "the tracks run %d pods (replicaCount)" (int $replicas)) }}
{{- end }}
{{- if .Values.autoscaling.keda.enabled }}
{{- $reasons = append $reasons "KEDA scales the tracks (autoscaling.keda.enabled)" }}
{{- end }}
{{- /* The schema keeps rollingUpdate.maxSurge >= 1 (maxUnavailable is always 0), so there is always a surge pod. */}}
{{- $reasons = append $reasons (printf "every rollout starts a surge pod next to the old ones (rollingUpdate.maxSurge %v, maxUnavailable 0)" .Values.rollingUpdate.maxSurge) }}
{{- if $reasons }}
{{- fail (printf "tf-serving: modelStorage.pvc.accessModes is %v, but more than one pod may mount the claim: %s. A ReadWriteOnce volume attaches to one node, so a pod on another node hangs on Multi-Attach and the rollout stalls: use [ReadWriteMany] (or ReadOnlyMany), or on a single node cluster only set modelStorage.pvc.allowReadWriteOnce=true" $modes (join "; " $reasons)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Metrics exposure and alert windows (traffic/monitoring).
The Ingress and HTTPRoute must not publish metrics.path.
Prefix matching is by path element (`/v1` covers `/v1` and `/v1/x`, not `/v1x`); an
ImplementationSpecific Ingress path is treated like a prefix. Included from tf-serving.validate.
*/}}
{{- define "tf-serving.validateExposureAndAlerts" -}}
{{- if and .Values.metrics.enabled (not .Values.metrics.allowUnderExposedPath) }}
{{- $metrics := .Values.metrics.path }}
{{- $exposed := list }}
{{- if .Values.ingress.enabled }}
{{- $exposed = append $exposed (dict "value" "ingress.path" "path" .Values.ingress.path "exact" (eq .Values.ingress.pathType "Exact")) }}
{{- end }}
{{- if include "tf-serving.gatewayRouteEnabled" (list $ "HTTPRoute") }}
{{- $exposed = append $exposed (dict "value" "gatewayApi.http.path" "path" .Values.gatewayApi.http.path "exact" false) }}
{{- end }}
{{- range $exposed }}
{{- $prefix := trimSuffix "/" .path }}
{{- $covers := ternary (eq .path $metrics) (or (eq $prefix "") (eq (trimSuffix "/" $metrics) $prefix) (hasPrefix (printf "%s/" $prefix) $metrics)) .exact }}
{{- if $covers }}
{{- fail (printf "tf-serving: %s %q exposes metrics.path %q outside the cluster (the metrics share the REST port); route only TF Serving's REST API with %s=/v1/, or move metrics.path out of it, or set metrics.allowUnderExposedPath=true if that is intended" .value .path $metrics .value) }}
{{- end }}
{{- end }}
{{- end }}
{{- /* The new-series branch of TFServingModelLoadFailed looks back 15m: a longer `for` never fires. */}}
{{- $load := .Values.monitoring.prometheusRule.alerts.modelLoadFailures }}
{{- if and .Values.monitoring.prometheusRule.enabled $load.enabled (ge (int64 (include "tf-serving.durationMillis" $load.for)) 900000) }}
{{- fail (printf "tf-serving: monitoring.prometheusRule.alerts.modelLoadFailures.for is %s but the alert looks at the last 15m, so a single failed load would never fire it; use less than 15m (default 0m)" $load.for) }}
{{- end }}
{{- end }}

{{/*
server.extraArgs and server.extraEnv, per track (a track may override `server` and `image`):
refuse what the server ignores or refuses. tensorflow_model_server prints "unknown argument" for
a flag its main.cc does not declare and starts without it (model_servers/main.cc), reads
`--name=value` only (a bare `--name` works for true/false flags alone), lets the last of two equal
flags win, and ignores --model_name/--model_base_path next to --model_config_file (server.cc).
*/}}
{{- define "tf-serving.validateServerArgs" -}}
{{- $root := . }}
{{- $owned := dict
  "port" "server.grpcPort" "rest_api_port" "server.restPort" "model_config_file" "models (and server.configMountPath)"
  "monitoring_config_file" "metrics.enabled / metrics.path" "model_config_file_poll_wait_seconds" "server.modelConfigPollWaitSeconds"
  "allow_version_labels_for_unavailable_models" "server.allowVersionLabelsForUnavailableModels"
  "file_system_poll_wait_seconds" "server.fileSystemPollWaitSeconds"
  "tensorflow_intra_op_parallelism" "server.tensorflowIntraOpParallelism" "tensorflow_inter_op_parallelism" "server.tensorflowInterOpParallelism"
  "rest_api_num_threads" "server.restApiNumThreads" "grpc_max_threads" "server.grpcMaxThreads" "rest_api_timeout_in_ms" "server.restApiTimeoutInMs"
  "grpc_channel_arguments" "server.grpcChannelArguments" "enable_model_warmup" "server.enableModelWarmup"
  "max_num_load_retries" "server.maxNumLoadRetries" "load_retry_interval_micros" "server.loadRetryIntervalMicros" "num_load_threads" "server.numLoadThreads"
  "enable_batching" "batching.enabled" "batching_parameters_file" "batching.* (the chart writes the file)" "enable_per_model_batching_parameters" "batching.perModelParameters"
  "enable_grpc_healthcheck_service" "probes.grpcHealthCheck.enabled" "per_process_gpu_memory_fraction" "gpu.perProcessGpuMemoryFraction" }}
{{- range $track := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (list $root $track $ctx) }}
{{- $argsPath := include "tf-serving.trackValuePath" (list $root $track "server.extraArgs") }}
{{- $known := include "tf-serving.knownServerFlags" $ctx | fromJsonArray }}
{{- $tag := include "tf-serving.imageTag" $ctx }}
{{- $seen := dict }}
{{- range $i, $arg := $ctx.Values.server.extraArgs }}
{{- $name := regexReplaceAll "^--([^=]*).*$" $arg "${1}" }}
{{- $where := printf "tf-serving: %s[%d] %q" $argsPath $i $arg }}
{{- if not (has $name $known) }}
{{- fail (printf "%s: tensorflow_model_server %s has no flag --%s (model_servers/main.cc); it would print \"unknown argument\" and start without it. Fix the name (see `tensorflow_model_server --help`) or use an image that has it" $where $tag $name) }}
{{- end }}
{{- if hasKey $owned $name }}
{{- fail (printf "%s: the chart already sets --%s (the last of two equal flags wins, so one would be ignored); set %s instead" $where $name (get $owned $name)) }}
{{- end }}
{{- if has $name (list "model_name" "model_base_path") }}
{{- fail (printf "%s: tensorflow_model_server ignores --%s next to the --model_config_file the chart passes; list the model in models ({name, basePath})" $where $name) }}
{{- end }}
{{- if eq $name "version" }}
{{- fail (printf "%s: --version prints the version and exits, so the container would restart forever; run `docker run --entrypoint tensorflow_model_server %s --version` instead" $where (include "tf-serving.image" $ctx)) }}
{{- end }}
{{- if not (contains "=" $arg) }}
{{- fail (printf "%s: write --%s=VALUE (e.g. --%s=true); the chart takes --name=value only, because tensorflow_model_server ignores a bare --name (\"unknown argument\") for every flag that is not true/false" $where $name $name) }}
{{- end }}
{{- if hasKey $seen $name }}
{{- fail (printf "%s: --%s is also %s[%d]; the last one wins, so remove one" $where $name $argsPath (get $seen $name)) }}
{{- end }}
{{- $_ := set $seen $name $i }}
{{- end }}
{{- /* The chart's own flags: an image older than a flag the values turn on would ignore it. */}}
{{- range $arg := include "tf-serving.serverArgs" $ctx | fromYamlArray }}
{{- $name := regexReplaceAll "^--([^=]*).*$" $arg "${1}" }}
{{- if and (not (has $arg $ctx.Values.server.extraArgs)) (not (has $name $known)) }}
{{- fail (printf "tf-serving: %s %q: tensorflow_model_server %s has no flag --%s, which the chart renders from the values (model_servers/main.cc); it would print \"unknown argument\" and run without it. Use a newer image or turn off what needs it" (include "tf-serving.trackValuePath" (list $root $track "image.tag")) $tag $tag $name) }}
{{- end }}
{{- end }}
{{- /* Combinations the server refuses at start or ignores (model_servers/server.cc). */}}
{{- $cores := include "tf-serving.cpuCores" $ctx | int64 }}
{{- $s := $ctx.Values.server }}
{{- if and (hasKey $seen "tensorflow_session_parallelism") (or $cores $s.tensorflowIntraOpParallelism $s.tensorflowInterOpParallelism) }}
{{- fail (printf "tf-serving: %s has --tensorflow_session_parallelism, but the chart sets intra- and inter-op parallelism (server.tensorflowIntraOpParallelism / server.tensorflowInterOpParallelism, derived from the CPU limit), so the server ignores it (or, with all three set, refuses to start); set those two values instead" $argsPath) }}
{{- end }}
{{- if and (hasKey $seen "use_alts_credentials") (hasKey $seen "ssl_config_file") }}
{{- fail (printf "tf-serving: %s has --use_alts_credentials and --ssl_config_file; the server refuses to start with both (\"Either use_alts_credentials must be false or ssl_config_file must be empty\"): keep one" $argsPath) }}
{{- end }}
{{- $envPath := include "tf-serving.trackValuePath" (list $root $track "server.extraEnv") }}
{{- range $i, $env := $ctx.Values.server.extraEnv }}
{{- if has $env.name (list "MODEL_NAME" "MODEL_BASE_PATH") }}
{{- fail (printf "tf-serving: %s[%d] %s does nothing: only the image's entrypoint script reads it, and the chart runs tensorflow_model_server directly with --model_config_file; list the model in models ({name, basePath})" $envPath $i $env.name) }}
{{- end }}
{{- if hasPrefix "TF_SERVING_" $env.name }}
{{- fail (printf "tf-serving: %s[%d] %s does nothing: TF Serving reads its settings from flags, not TF_SERVING_* variables; batching is batching.*, the other settings are server.* (or a flag in server.extraArgs)" $envPath $i $env.name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A Prometheus duration (`1m30s`, `15s`, `500ms`) in milliseconds, for comparisons in _validate.tpl.
*/}}
{{- define "tf-serving.durationMillis" -}}
{{- $units := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 "w" 604800000 "y" 31536000000 }}
{{- $total := 0 }}
{{- range regexFindAll "[0-9]+(ms|s|m|h|d|w|y)" (toString .) -1 }}
{{- $total = add $total (mul (regexFind "^[0-9]+" .) (get $units (regexFind "[a-z]+$" .))) }}
{{- end }}
{{- $total }}
{{- end }}
