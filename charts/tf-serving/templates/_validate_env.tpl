{{/*
Environment: no secret-looking literal in an env list the chart passes through (a literal is stored
in the Deployment, readable by everyone who may read Deployments, and shows in `helm get values`).
*/}}
{{- define "tf-serving.validate.env" -}}
{{- include "tf-serving.validate.envList" (dict "path" "server.extraEnv" "env" .Values.server.extraEnv) }}
{{- include "tf-serving.validate.envList" (dict "path" "modelStorage.initContainer.env" "env" .Values.modelStorage.initContainer.env) }}
{{- end }}

{{/*
One env list with its value path, (dict "path" "server.extraEnv" "env" $list): a non-empty literal
`value` under a name that says secret, password, token, credentials or key (AWS_SECRET_ACCESS_KEY,
HF_TOKEN, MINIO_ROOT_PASSWORD, API_KEY) is refused. Names of a file, path or directory
(AWS_WEB_IDENTITY_TOKEN_FILE) hold a location, not the secret, and pass.
*/}}
{{- define "tf-serving.validate.envList" -}}
{{- $path := .path }}
{{- range $i, $e := .env }}
{{- $name := upper (toString $e.name) }}
{{- $secretName := regexMatch "(^|_)(SECRETS?|PASSWORD|PASSWD|PASSPHRASE|TOKEN|CREDENTIALS?)(_|$)|(^|_)KEY$" $name }}
{{- if and $secretName (not (regexMatch "_(FILE|PATH|DIR)$" $name)) (hasKey $e "value") (ne (toString $e.value) "") }}
{{- fail (printf "tf-serving: %s[%d].value is a literal for %s, which looks like a secret: it would be stored in the Deployment, readable by everyone who may read it. Put it in a Secret (kubectl create secret generic NAME --from-literal=%s=...) and replace value with valueFrom: {secretKeyRef: {name: NAME, key: %s}}" $path $i $e.name $e.name $e.name) }}
{{- end }}
{{- end }}
{{- end }}
