{{/*
Traffic: canary split and its header match, Ingress hosts and TLS, Gateway API routes and their
hostnames, and the deployer Role of whoever moves traffic between tracks.
*/}}
{{- define "tf-serving.validate.traffic" -}}
{{- $tracks := include "tf-serving.trackNames" . | fromJsonArray }}
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
{{- include "tf-serving.trackContext" (dict "root" $ "track" $c.track "ctx" $canaryCtx) }}
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
{{- if and $ing.tls.secretName (not $ing.tls.enabled) }}
{{- fail (printf "tf-serving: ingress.tls.secretName is %q but ingress.tls.enabled is false, so the Ingress serves plain HTTP and the certificate is unused; set ingress.tls.enabled=true, or remove ingress.tls.secretName" $ing.tls.secretName) }}
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
{{- /* The routes' CRD (x-kubernetes-validations on spec.parentRefs): two references to one parent
(group, kind, namespace and name, after the CRD's defaults) must each name a different sectionName. */}}
{{- $seen := dict }}
{{- range $i, $ref := $g.parentRefs }}
{{- $parent := printf "%s/%s/%s/%s" ($ref.group | default "gateway.networking.k8s.io") ($ref.kind | default "Gateway") ($ref.namespace | default "") $ref.name }}
{{- $section := $ref.sectionName | default "" }}
{{- range $j, $other := get $seen $parent | default list }}
{{- if or (not $section) (not (index $other 1)) (eq $section (index $other 1)) }}
{{- fail (printf "tf-serving: gatewayApi.parentRefs[%d] and gatewayApi.parentRefs[%d] both name %s %s (namespace %q) without two different sectionNames: the routes' CRD refuses that (\"sectionName must be specified when parentRefs includes 2 or more references to the same parent\", and be unique); give each its own sectionName (a listener of that Gateway), or keep one reference" (index $other 0) $i ($ref.kind | default "Gateway") $ref.name ($ref.namespace | default "the release's")) }}
{{- end }}
{{- end }}
{{- $_ := set $seen $parent (append (get $seen $parent | default list) (list $i $section)) }}
{{- end }}
{{- $routeHosts := list }}
{{- $http := include "tf-serving.gatewayRouteEnabled" (dict "root" $ "kind" "HTTPRoute") }}
{{- $grpc := include "tf-serving.gatewayRouteEnabled" (dict "root" $ "kind" "GRPCRoute") }}
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
{{- $ing := .Values.ingress }}
{{- if and $ing.enabled $ing.grpc.enabled (not $ing.tls.enabled) }}
{{- fail "tf-serving: ingress.grpc.enabled needs ingress.tls.enabled=true (with ingress.tls.secretName covering ingress.grpc.host): ingress-nginx speaks HTTP/2, which gRPC needs, only on its TLS listeners, so gRPC clients would fail; enable TLS, or use gatewayApi (GRPCRoute) instead" }}
{{- end }}
{{- if and .Values.rbac.deployer.create (not .Values.rbac.deployer.subjects) }}
{{- fail "tf-serving: rbac.deployer.create is true but rbac.deployer.subjects is empty; list who promotes releases, e.g. [{kind: ServiceAccount, name: deployer, namespace: ci}]" }}
{{- end }}
{{- range $i, $s := .Values.rbac.deployer.subjects }}
{{- if and (eq $s.kind "ServiceAccount") (eq $s.name (include "tf-serving.serviceAccountName" $)) (eq ($s.namespace | default $.Release.Namespace) $.Release.Namespace) }}
{{- fail (printf "tf-serving: rbac.deployer.subjects[%d] is the serving pods' own ServiceAccount %s; the serving pods never call the Kubernetes API, bind the deployer Role to the identity that promotes releases" $i $s.name) }}
{{- end }}
{{- end }}
{{- /* Last, so that a wrong value above is reported before a missing API. */}}
{{- $g := .Values.gatewayApi }}
{{- range $kind, $on := dict "HTTPRoute" $g.http.enabled "GRPCRoute" $g.grpc.enabled }}
{{- if and $g.enabled $on }}
{{- include "tf-serving.requireApi" (dict "root" $ "api" (printf "gateway.networking.k8s.io/v1/%s" $kind) "force" $g.force "enabledBy" (printf "gatewayApi.enabled with gatewayApi.%s.enabled" (ternary "http" "grpc" (eq $kind "HTTPRoute"))) "forcePath" "gatewayApi.force" "install" "the Gateway API CRDs (standard channel v1.1 or newer, which has GRPCRoute v1) and a Gateway controller") }}
{{- end }}
{{- end }}
{{- end }}
