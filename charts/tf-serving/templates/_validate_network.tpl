{{/*
NetworkPolicy: with networkPolicy.enabled every direction is denied except what the values allow,
so refuse a policy that blocks what the chart itself sets up: the traffic its own Ingress, Gateway
API routes or LoadBalancer/NodePort Service send, and the egress the model source needs. Peers'
real addresses are unknown here, so only what the values show is checked: that some rule admits
the port (an ipBlock is trusted to cover the endpoint), DNS, and the GKE metadata server.
*/}}
{{- define "tf-serving.validate.network" -}}
{{- $np := .Values.networkPolicy }}
{{- include "tf-serving.validate.networkRanges" . }}
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

{{/*
What ValidateNetworkPolicySpec refuses across fields (pkg/apis/networking/validation), checked
whether or not networkPolicy.enabled: every ipBlock's `except` range is a strict subset of its
`cidr` (ValidateIPBlock: "must be a strict subset of `cidr`"), and an extra rule's endPort is not
below its port (ValidateNetworkPolicyPort).
*/}}
{{- define "tf-serving.validate.networkRanges" -}}
{{- $np := .Values.networkPolicy }}
{{- range $key := list "clients" "monitoring" }}
{{- range $i, $peer := index $np $key }}
{{- if and (kindIs "map" $peer) $peer.ipBlock }}
{{- include "tf-serving.validate.ipBlock" (dict "block" $peer.ipBlock "path" (printf "networkPolicy.%s[%d].ipBlock" $key $i)) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $i, $rule := $np.modelStorage }}
{{- include "tf-serving.validate.ipBlock" (dict "block" $rule "path" (printf "networkPolicy.modelStorage[%d]" $i)) }}
{{- end }}
{{- range $key := list "extraIngress" "extraEgress" }}
{{- $peers := ternary "from" "to" (eq $key "extraIngress") }}
{{- range $i, $rule := index $np $key }}
{{- range $j, $peer := index $rule $peers }}
{{- if and (kindIs "map" $peer) $peer.ipBlock }}
{{- include "tf-serving.validate.ipBlock" (dict "block" $peer.ipBlock "path" (printf "networkPolicy.%s[%d].%s[%d].ipBlock" $key $i $peers $j)) }}
{{- end }}
{{- end }}
{{- range $j, $port := $rule.ports }}
{{- if and (kindIs "map" $port) (not (kindIs "invalid" $port.endPort)) (regexMatch "^[0-9]+$" (toString $port.port)) }}
{{- if lt (int $port.endPort) (int $port.port) }}
{{- fail (printf "tf-serving: networkPolicy.%s[%d].ports[%d].endPort (%v) is below its port (%v): the API server refuses the NetworkPolicy (\"must be greater than or equal to `port`\"); endPort is the last port of the range port..endPort" $key $i $j $port.endPort $port.port) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
An ipBlock-shaped map ({cidr, except}) whose except ranges must lie strictly inside its cidr:
(dict "block" $b "path" "networkPolicy.clients[0].ipBlock"). Compared bit by bit, so IPv4 and IPv6
alike; a range of the other family is outside.
*/}}
{{- define "tf-serving.validate.ipBlock" -}}
{{- $path := .path }}
{{- $cidr := toString .block.cidr }}
{{- if and .block.except (regexMatch "/" $cidr) }}
{{- $outer := include "tf-serving.cidrBits" $cidr | splitList "/" }}
{{- $outerLen := atoi (last $outer) }}
{{- range $i, $except := .block.except }}
{{- $inner := include "tf-serving.cidrBits" (toString $except) | splitList "/" }}
{{- $innerLen := atoi (last $inner) }}
{{- $inside := and (eq (len (first $outer)) (len (first $inner))) (gt $innerLen $outerLen) (eq (trunc $outerLen (first $outer)) (trunc $outerLen (first $inner))) }}
{{- if not $inside }}
{{- fail (printf "tf-serving: %s.except[%d] %s is not a strict subset of %s.cidr %s: the API server refuses the NetworkPolicy (\"must be a strict subset of `cidr`\"); list only ranges inside the cidr (and smaller than it), or widen the cidr" $path $i $except $path $cidr) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A CIDR as its address bits and prefix length, "<bits>/<length>": 32 bits for IPv4, 128 for IPv6
(`::` expanded). The schema has already checked the syntax.
*/}}
{{- define "tf-serving.cidrBits" -}}
{{- $parts := splitList "/" . }}
{{- $address := first $parts }}
{{- $bits := "" }}
{{- if contains ":" $address }}
{{- $halves := splitList "::" $address }}
{{- $head := list }}
{{- if first $halves }}{{ $head = splitList ":" (first $halves) }}{{ end }}
{{- $tail := list }}
{{- if and (eq (len $halves) 2) (last $halves) }}{{ $tail = splitList ":" (last $halves) }}{{ end }}
{{- $groups := $head }}
{{- range until (sub 8 (add (len $head) (len $tail)) | int) }}{{ $groups = append $groups "0" }}{{ end }}
{{- $nibbles := dict "0" "0000" "1" "0001" "2" "0010" "3" "0011" "4" "0100" "5" "0101" "6" "0110" "7" "0111" "8" "1000" "9" "1001" "a" "1010" "b" "1011" "c" "1100" "d" "1101" "e" "1110" "f" "1111" }}
{{- range concat $groups $tail }}
{{- range splitList "" (printf "%04s" (lower .)) }}{{ $bits = print $bits (get $nibbles .) }}{{ end }}
{{- end }}
{{- else }}
{{- range splitList "." $address }}{{ $bits = print $bits (printf "%08b" (atoi .)) }}{{ end }}
{{- end }}
{{- printf "%s/%s" $bits (last $parts) }}
{{- end }}
