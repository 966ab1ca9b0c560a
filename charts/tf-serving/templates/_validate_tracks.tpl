{{/*
Tracks: primaryTrack names a track; blue/green makes its own two tracks.
*/}}
{{- define "tf-serving.validate.tracks" -}}
{{- $tracks := include "tf-serving.trackNames" . | fromJsonArray }}
{{- if and .Values.primaryTrack (not (has .Values.primaryTrack $tracks)) }}
{{- fail (printf "tf-serving: primaryTrack %q is not one of the tracks %v; name a key of tracks or leave it empty" .Values.primaryTrack $tracks) }}
{{- end }}
{{- $bg := .Values.blueGreen }}
{{- if and $bg.enabled .Values.tracks }}
{{- fail (printf "tf-serving: blueGreen.enabled and tracks (%v) are both set; blue/green makes the tracks blue and green itself: move per-track overrides to blueGreen.blue / blueGreen.green and empty tracks" (keys .Values.tracks | sortAlpha)) }}
{{- end }}
{{- if and $bg.enabled .Values.primaryTrack }}
{{- fail (printf "tf-serving: primaryTrack %q is set with blueGreen.enabled; the primary is blueGreen.active: empty primaryTrack" .Values.primaryTrack) }}
{{- end }}
{{- end }}

{{/*
One track: the primary track (the one the main Service, Ingress and routes send traffic to) needs
a pod. Another track may be scaled to 0 (an idle colour, a parked canary). Per track: called from
validate.yaml with (dict "root" $ "track" $track "ctx" $ctx).
*/}}
{{- define "tf-serving.validate.tracks.track" -}}
{{- $root := .root }}
{{- $ctx := .ctx }}
{{- if and $ctx.IsPrimary (eq (int $ctx.Values.replicaCount) 0) (not (include "tf-serving.autoscaled" $ctx)) }}
{{- $why := "it is the only track" }}
{{- $instead := "" }}
{{- if $root.Values.blueGreen.enabled }}
{{- $why = printf "blueGreen.active is %s" $root.Values.blueGreen.active }}
{{- $instead = ", or switch blueGreen.active to the other colour once it has pods" }}
{{- else if $root.Values.primaryTrack }}
{{- $why = printf "primaryTrack is %s" $root.Values.primaryTrack }}
{{- $instead = ", or set primaryTrack to a track with pods" }}
{{- else if $root.Values.tracks }}
{{- $why = "primaryTrack is empty, so the first track by name is primary" }}
{{- $instead = ", or set primaryTrack to a track with pods" }}
{{- end }}
{{- fail (printf "tf-serving: %s is 0 for track %s, which the main Service routes every request to (%s), so they would all fail; set it to 1 or more, or turn on autoscaling%s" (include "tf-serving.trackValuePath" (dict "root" $root "track" .track "key" "replicaCount")) .track $why $instead) }}
{{- end }}
{{- end }}
