{{/*
Deployment variants and traffic: blue/green, canary, Ingress, Gateway API, pod scheduling.
*/}}

{{/*
Blue/green: the colour that is not active.
*/}}
{{- define "tf-serving.idleColour" -}}
{{- ternary "green" "blue" (eq .Values.blueGreen.active "blue") }}
{{- end }}

{{/*
Name of the blue/green preview Service.
*/}}
{{- define "tf-serving.previewServiceName" -}}
{{- printf "%s-preview" (include "tf-serving.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
Name of the Service of one track, as service.yaml renders it: the main Service when there is only
one track, `<fullname>-<track>` otherwise, also for the track `main` (whose Deployment keeps the
plain full name, so a single-track install can add a canary track without renaming anything).
Takes (list $root $trackName).
*/}}
{{- define "tf-serving.trackServiceName" -}}
{{- $root := index . 0 }}
{{- $track := index . 1 }}
{{- $fullname := include "tf-serving.fullname" $root }}
{{- if gt (len (include "tf-serving.trackNames" $root | fromJsonArray)) 1 }}
{{- printf "%s-%s" ($fullname | trunc (int (sub 62 (len $track)))) $track | trimSuffix "-" }}
{{- else }}
{{- $fullname }}
{{- end }}
{{- end }}

{{/*
Name of the Deployment of one track (the track's full name). Takes (list $root $trackName).
*/}}
{{- define "tf-serving.trackDeploymentName" -}}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (list (index . 0) (index . 1) $ctx) }}
{{- $ctx.TrackFullname }}
{{- end }}

{{/*
Whether Gateway API routes of a kind are rendered: `gatewayApi.enabled` and (the cluster serves the
kind or `gatewayApi.force`). Takes (list $root "HTTPRoute"|"GRPCRoute"); renders "true" or "".
*/}}
{{- define "tf-serving.gatewayRouteEnabled" -}}
{{- $root := index . 0 }}
{{- $kind := index . 1 }}
{{- $g := $root.Values.gatewayApi }}
{{- $on := ternary $g.http.enabled $g.grpc.enabled (eq $kind "HTTPRoute") }}
{{- if and $g.enabled $on (or $g.force ($root.Capabilities.APIVersions.Has (printf "gateway.networking.k8s.io/v1/%s" $kind))) }}true{{- end }}
{{- end }}

{{/*
The backendRefs of a route: the main Service (primary track) with 100 - canary.weight, and with
canary on the canary track's Service with canary.weight. Takes (list $root $port).
*/}}
{{- define "tf-serving.routeBackendRefs" -}}
{{- $root := index . 0 }}
{{- $port := index . 1 }}
{{- $c := $root.Values.canary -}}
- name: {{ include "tf-serving.fullname" $root }}
  port: {{ $port }}
  weight: {{ ternary (sub 100 (int $c.weight)) 100 $c.enabled }}
{{- if $c.enabled }}
- name: {{ include "tf-serving.trackServiceName" (list $root $c.track) }}
  port: {{ $port }}
  weight: {{ int $c.weight }}
{{- end }}
{{- end }}

{{/*
Gateway API header match that pins testers to the canary (`canary.header`). Renders one list item.
*/}}
{{- define "tf-serving.canaryHeaderMatch" -}}
{{- $h := .Values.canary.header -}}
- name: {{ $h.name | quote }}
  {{- if $h.pattern }}
  type: RegularExpression
  value: {{ $h.pattern | quote }}
  {{- else }}
  type: Exact
  value: {{ $h.value | quote }}
  {{- end }}
{{- end }}

{{/*
Pod scheduling of one track: topology spread, anti-affinity preset, priorityClassName. Called with a
track context from the pod spec; selectors are the track's own selector labels.
*/}}
{{- define "tf-serving.podScheduling" -}}
{{- $s := .Values.scheduling }}
{{- with $s.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if and $s.topologySpread.enabled $s.topologySpread.topologyKeys }}
topologySpreadConstraints:
  {{- range $s.topologySpread.topologyKeys }}
  - maxSkew: {{ $s.topologySpread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: {{ $s.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "tf-serving.trackSelectorLabels" $ | nindent 8 }}
    # Count only the pods of the current ReplicaSet, so a rolling update spreads the new pods too.
    matchLabelKeys:
      - pod-template-hash
  {{- end }}
{{- end }}
{{- if ne $s.podAntiAffinity "none" }}
affinity:
  podAntiAffinity:
    {{- if eq $s.podAntiAffinity "hard" }}
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: {{ $s.antiAffinityTopologyKey }}
        labelSelector:
          matchLabels:
            {{- include "tf-serving.trackSelectorLabels" $ | nindent 12 }}
    {{- else }}
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: {{ $s.antiAffinityTopologyKey }}
          labelSelector:
            matchLabels:
              {{- include "tf-serving.trackSelectorLabels" $ | nindent 14 }}
    {{- end }}
{{- end }}
{{- end }}
