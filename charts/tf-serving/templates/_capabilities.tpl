{{/*
Fail the render when a CRD-backed object the user enabled cannot be rendered, instead of leaving it
out silently. The API counts as served when the cluster lists it (`helm template` knows it only from
`--api-versions`) or the feature's force value is set. Called from validate.yaml for every such
feature, so the object templates render whenever their feature is on. Core kinds are never gated:
Chart.yaml's kubeVersion guarantees them. Takes (dict "root" $ "api" "group/version/Kind" "force"
<force value> "enabledBy" "<value path>" "forcePath" "<value path>" "install" "<what provides the API>").
*/}}
{{- define "tf-serving.requireApi" -}}
{{- if not (or .force (.root.Capabilities.APIVersions.Has .api)) }}
{{- fail (printf "tf-serving: %s is true but the cluster does not serve %s; install %s, or set %s=true when rendering offline (helm template)" .enabledBy (regexReplaceAll "/([^/]*)$" .api " ${1}") .install .forcePath) }}
{{- end }}
{{- end }}
