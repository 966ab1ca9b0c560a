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
