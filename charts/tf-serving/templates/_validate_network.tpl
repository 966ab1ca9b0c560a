{{/*
NetworkPolicy: with networkPolicy.enabled every direction is denied except what the values allow,
so refuse a policy that blocks what the chart itself sets up: the traffic its own Ingress, Gateway
API routes or LoadBalancer/NodePort Service send, and the egress the model source needs. Peers'
real addresses are unknown here, so only what the values show is checked: that some rule admits
the port (an ipBlock is trusted to cover the endpoint), DNS, and the GKE metadata server.
*/}}
{{- define "tf-serving.validate.network" -}}
{{- $np := .Values.networkPolicy }}
{{- if $np.enabled }}
{{- /* Ingress: who sends client traffic through what the chart renders. */}}
{{- $senders := list }}
{{- if .Values.ingress.enabled }}
{{- $senders = append $senders "ingress.enabled (the Ingress controller's pods)" }}
{{- end }}
{{- range $kind := list "HTTPRoute" "GRPCRoute" }}
{{- if include "tf-serving.gatewayRouteEnabled" (dict "root" $ "kind" $kind) }}
{{- $senders = append $senders (printf "gatewayApi.%s.enabled (the %s's Gateway proxies)" (ternary "http" "grpc" (eq $kind "HTTPRoute")) $kind) }}
{{- end }}
{{- end }}
{{- if has .Values.service.type (list "LoadBalancer" "NodePort") }}
{{- $senders = append $senders (printf "service.type %s (the clients' addresses, or the nodes' with externalTrafficPolicy Cluster)" .Values.service.type) }}
{{- end }}
{{- $admitted := not (empty $np.clients) }}
{{- range $np.extraIngress }}
{{- if include "tf-serving.netpolPortsAdmit" (dict "ports" .ports "port" $.Values.server.restPort "name" "http") }}{{ $admitted = true }}{{ end }}
{{- if include "tf-serving.netpolPortsAdmit" (dict "ports" .ports "port" $.Values.server.grpcPort "name" "grpc") }}{{ $admitted = true }}{{ end }}
{{- end }}
{{- if and $senders (not $admitted) }}
{{- fail (printf "tf-serving: networkPolicy.clients is empty, so with networkPolicy.enabled no peer may reach the gRPC and REST ports, yet traffic comes through %s: every request would time out. Add those peers to networkPolicy.clients (NetworkPolicyPeers, e.g. {namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}} for the controller's or gateway's namespace, or an ipBlock for load balancer clients), or turn networkPolicy off" (join " and " $senders)) }}
{{- end }}
{{- /* Egress: what the model source needs. */}}
{{- $ms := .Values.modelStorage }}
{{- $src := $ms.source }}
{{- if has $src (list "gcs" "s3") }}
{{- $port := 443 }}
{{- $host := ternary "storage.googleapis.com" (printf "s3.%s.amazonaws.com" ($ms.s3.region | default "<region>")) (eq $src "gcs") }}
{{- if and (eq $src "s3") $ms.s3.endpoint }}
{{- $host = regexReplaceAll ":[0-9]+$" $ms.s3.endpoint "" }}
{{- $port = ternary 443 80 $ms.s3.useHttps }}
{{- with regexFind ":[0-9]+$" $ms.s3.endpoint }}{{ $port = trimPrefix ":" . | atoi }}{{ end }}
{{- end }}
{{- $reached := false }}
{{- range $np.modelStorage }}
{{- if include "tf-serving.netpolPortsAdmit" (dict "ports" .ports "port" $port) }}{{ $reached = true }}{{ end }}
{{- end }}
{{- range $np.extraEgress }}
{{- if include "tf-serving.netpolPortsAdmit" (dict "ports" .ports "port" $port) }}{{ $reached = true }}{{ end }}
{{- end }}
{{- if not $reached }}
{{- fail (printf "tf-serving: networkPolicy.modelStorage has no egress rule on TCP port %d, but modelStorage.source is %s: the server reads its models from %s itself and may not leave the pod, so the initial load never finishes. Add e.g. {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 169.254.0.0/16], ports: [{port: %d}]} (ci/network-policy-values.yaml)" $port $src $host $port) }}
{{- end }}
{{- $resolves := $np.dns.enabled }}
{{- range $np.extraEgress }}
{{- if include "tf-serving.netpolPortsAdmit" (dict "ports" .ports "port" 53) }}{{ $resolves = true }}{{ end }}
{{- end }}
{{- if and (not $resolves) (not (regexMatch "^[0-9.]+$" $host)) }}
{{- fail (printf "tf-serving: networkPolicy.dns.enabled is false and no networkPolicy.extraEgress rule admits port 53, but modelStorage.source %s reads from %s, which the pod cannot resolve without DNS: set networkPolicy.dns.enabled=true (and its selectors for your cluster DNS)" $src $host) }}
{{- end }}
{{- /* Without a key Secret, GKE Workload Identity hands the token out from the metadata server. */}}
{{- $wi := index .Values.serviceAccount.annotations "iam.gke.io/gcp-service-account" }}
{{- if and (eq $src "gcs") (not $ms.gcs.existingSecret) $wi }}
{{- $metadata := false }}
{{- range $np.modelStorage }}
{{- if and (include "tf-serving.ipBlockHolds" (dict "block" . "ip" "169.254.169.254")) (include "tf-serving.netpolPortsAdmit" (dict "ports" .ports "port" 80)) }}{{ $metadata = true }}{{ end }}
{{- end }}
{{- range $rule := $np.extraEgress }}
{{- $to := not $rule.to }}
{{- range $rule.to }}
{{- if and .ipBlock (include "tf-serving.ipBlockHolds" (dict "block" .ipBlock "ip" "169.254.169.254")) }}{{ $to = true }}{{ end }}
{{- end }}
{{- if and $to (include "tf-serving.netpolPortsAdmit" (dict "ports" $rule.ports "port" 80)) }}{{ $metadata = true }}{{ end }}
{{- end }}
{{- if not $metadata }}
{{- fail (printf "tf-serving: networkPolicy.modelStorage does not allow the GKE metadata server 169.254.169.254 on port 80, but serviceAccount.annotations names the Workload Identity account %s (modelStorage.gcs.existingSecret is empty), and the server gets its GCS token there: add {cidr: 169.254.169.254/32, ports: [{port: 80}]} (and {cidr: 169.254.169.252/32, ports: [{port: 988}]} on Dataplane V2), as in ci/network-policy-values.yaml" $wi) }}
{{- end }}
{{- end }}
{{- else if and (eq $src "initContainer") (not $np.modelStorage) (not $np.extraEgress) }}
{{- fail "tf-serving: networkPolicy.modelStorage and networkPolicy.extraEgress are empty, but modelStorage.source is initContainer: the download container may not leave the pod, so it hangs or fails and the pod never starts. Allow where it downloads from, e.g. {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, 169.254.0.0/16], ports: [{port: 443}]} in networkPolicy.modelStorage" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
"true" when a NetworkPolicyPort list admits TCP traffic to a port: (dict "ports" $ports "port" 443)
and optionally "name" (the container port's name, `http`). An empty list admits every port.
*/}}
{{- define "tf-serving.netpolPortsAdmit" -}}
{{- if not .ports }}true{{ else }}
{{- $want := int .port }}
{{- $name := .name | default "" }}
{{- $hit := false }}
{{- range .ports }}
{{- if eq (.protocol | default "TCP") "TCP" }}
{{- $p := toString .port }}
{{- if and $name (eq $p $name) }}{{ $hit = true }}{{ end }}
{{- if regexMatch "^[0-9]+$" $p }}
{{- if and (le (atoi $p) $want) (le $want (int (.endPort | default (atoi $p)))) }}{{ $hit = true }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
{{- if $hit }}true{{ end }}
{{- end }}
{{- end }}

{{/*
"true" when an ipBlock-shaped map ({cidr, except}) holds an IPv4 address: (dict "block" $b "ip" "169.254.169.254").
IPv6 blocks hold no IPv4 address.
*/}}
{{- define "tf-serving.ipBlockHolds" -}}
{{- $ip := .ip }}
{{- if include "tf-serving.cidrHolds" (dict "cidr" .block.cidr "ip" $ip) }}
{{- $excluded := false }}
{{- range .block.except }}
{{- if include "tf-serving.cidrHolds" (dict "cidr" . "ip" $ip) }}{{ $excluded = true }}{{ end }}
{{- end }}
{{- if not $excluded }}true{{ end }}
{{- end }}
{{- end }}

{{/*
"true" when an IPv4 CIDR holds an IPv4 address: (dict "cidr" "169.254.0.0/16" "ip" "169.254.169.254").
*/}}
{{- define "tf-serving.cidrHolds" -}}
{{- $cidr := toString .cidr }}
{{- if regexMatch "^[0-9.]+/[0-9]+$" $cidr }}
{{- $bits := splitList "/" $cidr }}
{{- $size := 1 }}
{{- range until (sub 32 (atoi (last $bits)) | int) }}{{ $size = mul $size 2 }}{{ end }}
{{- $net := 0 }}
{{- range splitList "." (first $bits) }}{{ $net = add (mul $net 256) (atoi .) }}{{ end }}
{{- $addr := 0 }}
{{- range splitList "." .ip }}{{ $addr = add (mul $addr 256) (atoi .) }}{{ end }}
{{- if eq (div $net $size) (div $addr $size) }}true{{ end }}
{{- end }}
{{- end }}
