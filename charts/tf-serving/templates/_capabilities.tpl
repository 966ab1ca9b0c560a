{{/*
Can an optional, CRD-backed kind be rendered? "true" when the cluster serves the API (`helm
template` knows it only from `--api-versions`) or its feature's force value is set, else "".
Takes (dict "root" $ "api" "group/version/Kind" "force" .Values.<feature>.force). Core kinds are
never gated: Chart.yaml's kubeVersion guarantees them.
*/}}
{{- define "tf-serving.apiAvailable" -}}
{{- if or .force (.root.Capabilities.APIVersions.Has .api) }}true{{ end }}
{{- end }}

{{/*
Fail the render when a CRD-backed object the user enabled cannot be rendered, instead of leaving it
out silently. Takes (dict "root" $ "api" "group/version/Kind" "force" <force value> "enabledBy"
"<value path>" "forcePath" "<value path>" "install" "<what provides the API>").
*/}}
{{- define "tf-serving.requireApi" -}}
{{- if not (include "tf-serving.apiAvailable" .) }}
{{- fail (printf "tf-serving: %s is true but the cluster does not serve %s; install %s, or set %s=true when rendering offline (helm template)" .enabledBy (regexReplaceAll "/([^/]*)$" .api " ${1}") .install .forcePath) }}
{{- end }}
{{- end }}
