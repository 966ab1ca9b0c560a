{{/*
Can an optional, CRD-backed kind be rendered? "true" when the cluster serves the API (`helm
template` knows it only from `--api-versions`) or its feature's force value is set, else "".
Takes (dict "root" $ "api" "group/version/Kind" "force" .Values.<feature>.force). Core kinds are
never gated: Chart.yaml's kubeVersion guarantees them.
*/}}
{{- define "tf-serving.apiAvailable" -}}
{{- if or .force (.root.Capabilities.APIVersions.Has .api) }}true{{ end }}
{{- end }}
