{{/*
Release tracks: which tracks exist, the merged values of each (tf-serving.trackContext, the one
place track overrides are applied), the names and labels of their objects, and how traffic is
split between them (canary weights and header matches shared by the Gateway API routes).
*/}}

{{/*
Names of the release tracks, sorted, as a JSON list: `blue` and `green` with blueGreen, else the
keys of `tracks`; no `tracks` means one track named `main`.
*/}}
{{- define "tf-serving.trackNames" -}}
{{- if .Values.blueGreen.enabled }}
{{- list "blue" "green" | toJson }}
{{- else if .Values.tracks }}
{{- keys .Values.tracks | sortAlpha | toJson }}
{{- else }}
{{- list "main" | toJson }}
{{- end }}
{{- end }}

{{/*
The track the main Service routes to: the active colour with blueGreen, else primaryTrack, else
the first track by name.
*/}}
{{- define "tf-serving.primaryTrack" -}}
{{- $names := include "tf-serving.trackNames" . | fromJsonArray }}
{{- if .Values.blueGreen.enabled }}
{{- .Values.blueGreen.active }}
{{- else }}
{{- .Values.primaryTrack | default (first $names) }}
{{- end }}
{{- end }}

{{/*
Fill a track context: `{{- $ctx := dict }}{{- include "tf-serving.trackContext" (dict "root" $ "track" $track "ctx" $ctx) }}`.
The context is the root context with .Values replaced by the track's values, plus .Track (the
name), .IsPrimary, .TrackFullname, .Root (the real root) and .TrackMemo (a dict the helpers of the
track memoise in), so every named template works on it.
Track values are the track's overrides applied over the top-level values: maps in $mergedMaps are
merged key by key, every other key (models, resources, ...) is replaced whole. `set` is used rather
than mergeOverwrite so zero values (replicaCount: 0, false) do override. Renders nothing.
Each track's context is built once per render and kept in the root context (every template of a
render shares it; the deep copy of the values was a sixth of a render when each call made its own);
each call gets a dict of its own, so a template may add keys to its context, and .Template is the
calling template's.
*/}}
{{- define "tf-serving.trackContext" -}}
{{- $root := .root }}
{{- $name := .track }}
{{- if not (hasKey $root "TfServingTracks") }}
{{- $_ := set $root "TfServingTracks" dict }}
{{- end }}
{{- if not (hasKey $root.TfServingTracks $name) }}
{{- $values := deepCopy $root.Values }}
{{- $overrides := dict }}
{{- if $root.Values.blueGreen.enabled }}
{{- $overrides = index $root.Values.blueGreen $name | default dict }}
{{- else if $root.Values.tracks }}
{{- $overrides = index $root.Values.tracks $name | default dict }}
{{- end }}
{{- $mergedMaps := list "image" "podLabels" "podAnnotations" "autoscaling" }}
{{- range $key, $value := $overrides }}
{{- if and (has $key $mergedMaps) (kindIs "map" $value) }}
{{- $merged := deepCopy (index $values $key | default dict) }}
{{- range $k, $v := $value }}
{{- $_ := set $merged $k $v }}
{{- end }}
{{- $_ := set $values $key $merged }}
{{- else }}
{{- $_ := set $values $key $value }}
{{- end }}
{{- end }}
{{- $built := dict "Values" $values "Track" $name "Root" $root "TrackMemo" dict }}
{{- range $key := list "Release" "Chart" "Capabilities" "Files" }}
{{- $_ := set $built $key (index $root $key) }}
{{- end }}
{{- $_ := set $built "IsPrimary" (eq $name (include "tf-serving.primaryTrack" $root)) }}
{{- $_ := set $built "Template" $root.Template }}
{{- $_ := set $built "TrackFullname" (include "tf-serving.trackFullname" $built) }}
{{- $_ := set $root.TfServingTracks $name $built }}
{{- end }}
{{- range $key, $value := index $root.TfServingTracks $name }}
{{- $_ := set $.ctx $key $value }}
{{- end }}
{{- $_ := set .ctx "Template" $root.Template }}
{{- end }}

{{/*
Dotted value path a track's value comes from, for error messages: `(dict "root" $ "track" $track "key" "models")`
gives `tracks.<track>.models` when the track overrides `models`, `blueGreen.<colour>.models` when
the blue/green colour does, else the top-level `models`. A dotted key (`image.tag`) is followed
into merged maps (`image` is merged key by key).
*/}}
{{- define "tf-serving.trackValuePath" -}}
{{- $root := .root }}
{{- $track := .track }}
{{- $key := .key }}
{{- $prefix := "" }}
{{- $overrides := dict }}
{{- if $root.Values.blueGreen.enabled }}
{{- $overrides = index $root.Values.blueGreen $track | default dict }}
{{- $prefix = printf "blueGreen.%s." $track }}
{{- else if $root.Values.tracks }}
{{- $overrides = index $root.Values.tracks $track | default dict }}
{{- $prefix = printf "tracks.%s." $track }}
{{- end }}
{{- $found := true }}
{{- $node := $overrides }}
{{- range $part := splitList "." $key }}
{{- if and $found (kindIs "map" $node) (hasKey $node $part) }}
{{- $node = index $node $part }}
{{- else }}
{{- $found = false }}
{{- end }}
{{- end }}
{{- if $found }}{{ $prefix }}{{ end }}{{ $key }}
{{- end }}

{{/*
Resource name of a track's objects: the full name for the default track `main` (so a single-track
install has the names users expect), `<fullname>-<track>` for every other track.
*/}}
{{- define "tf-serving.trackFullname" -}}
{{- if eq .Track "main" }}
{{- include "tf-serving.fullname" . }}
{{- else }}
{{- printf "%s-%s" (include "tf-serving.fullname" . | trunc (int (sub 62 (len .Track)))) .Track | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Object names of every track's Deployment (= HPA/ScaledObject/VPA names), as a JSON list.
*/}}
{{- define "tf-serving.trackFullnames" -}}
{{- $names := list }}
{{- range $track := include "tf-serving.trackNames" . | fromJsonArray }}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (dict "root" $ "track" $track "ctx" $ctx) }}
{{- $names = append $names $ctx.TrackFullname }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/*
Name of the Deployment of one track (the track's full name). Takes (dict "root" $ "track" $name).
*/}}
{{- define "tf-serving.trackDeploymentName" -}}
{{- $ctx := dict }}
{{- include "tf-serving.trackContext" (dict "root" .root "track" .track "ctx" $ctx) }}
{{- $ctx.TrackFullname }}
{{- end }}

{{/*
Name of the Service of one track, as service.yaml renders it: the main Service when there is only
one track, `<fullname>-<track>` otherwise, also for the track `main` (whose Deployment keeps the
plain full name, so a single-track install can add a canary track without renaming anything).
Takes (dict "root" $ "track" $name).
*/}}
{{- define "tf-serving.trackServiceName" -}}
{{- $root := .root }}
{{- $track := .track }}
{{- $fullname := include "tf-serving.fullname" $root }}
{{- if gt (len (include "tf-serving.trackNames" $root | fromJsonArray)) 1 }}
{{- printf "%s-%s" ($fullname | trunc (int (sub 62 (len $track)))) $track | trimSuffix "-" }}
{{- else }}
{{- $fullname }}
{{- end }}
{{- end }}

{{/*
Labels for the objects of one release track. Takes a track context.
*/}}
{{- define "tf-serving.trackLabels" -}}
{{ include "tf-serving.labels" . }}
tf-serving.io/track: {{ .Track }}
{{- end }}

{{/*
Selector labels of one release track: the release-wide ones plus the track. Every Deployment
selects only its own track's pods, so tracks never overlap.
Takes a track context (see tf-serving.trackContext).
*/}}
{{- define "tf-serving.trackSelectorLabels" -}}
{{ include "tf-serving.selectorLabels" . }}
tf-serving.io/track: {{ .Track }}
{{- end }}

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
"true" when something other than the Deployment owns the track's replica count (HPA or KEDA).
The Deployment then omits spec.replicas, so `helm upgrade` does not reset the scaler's choice.
Takes a track context.
*/}}
{{- define "tf-serving.autoscaled" -}}
{{- if or .Values.autoscaling.enabled .Values.autoscaling.keda.enabled -}}
true
{{- end }}
{{- end }}

{{/*
Whether Gateway API routes of a kind are rendered: `gatewayApi.enabled` and the kind's own
`enabled` (validate.yaml has already failed the render if the cluster does not serve the kind and
`gatewayApi.force` is off). Takes (dict "root" $ "kind" "HTTPRoute"|"GRPCRoute"); renders "true" or "".
*/}}
{{- define "tf-serving.gatewayRouteEnabled" -}}
{{- $root := .root }}
{{- $g := $root.Values.gatewayApi }}
{{- $on := ternary $g.http.enabled $g.grpc.enabled (eq .kind "HTTPRoute") }}
{{- if and $g.enabled $on }}true{{- end }}
{{- end }}

{{/*
The backendRefs of a route: the main Service (primary track) with 100 - canary.weight, and with
canary on the canary track's Service with canary.weight. Takes (dict "root" $ "port" $port).
*/}}
{{- define "tf-serving.routeBackendRefs" -}}
{{- $root := .root }}
{{- $port := .port }}
{{- $c := $root.Values.canary -}}
- name: {{ include "tf-serving.fullname" $root }}
  port: {{ $port }}
  weight: {{ ternary (sub 100 (int $c.weight)) 100 $c.enabled }}
{{- if $c.enabled }}
- name: {{ include "tf-serving.trackServiceName" (dict "root" $root "track" $c.track) }}
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
