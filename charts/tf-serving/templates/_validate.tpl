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
{{- end }}
