{{/*
Chart name, trimmed to 63 characters (the DNS label limit).
*/}}
{{- define "tf-serving.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: `<release>-<chart>`, or the release name alone when it already contains
the chart name. Trimmed to 63 characters.
*/}}
{{- define "tf-serving.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "tf-serving.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels for every object. The schema keeps commonLabels away from the chart's own label keys.
*/}}
{{- define "tf-serving.labels" -}}
helm.sh/chart: {{ include "tf-serving.chart" . }}
{{ include "tf-serving.selectorLabels" . }}
app.kubernetes.io/version: {{ include "tf-serving.imageTag" . | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tf-serving
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels. Selectors are immutable after install: only name and instance, never user labels.
*/}}
{{- define "tf-serving.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tf-serving.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "tf-serving.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tf-serving.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image tag: image.tag, else the chart's appVersion.
*/}}
{{- define "tf-serving.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/*
Image reference: a digest wins over the tag, so a pinned digest is what actually runs.
*/}}
{{- define "tf-serving.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "tf-serving.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
Name of the ConfigMap that holds the TF Serving config files.
*/}}
{{- define "tf-serving.configMapName" -}}
{{- printf "%s-config" (include "tf-serving.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Path of models.config inside the container.
*/}}
{{- define "tf-serving.modelConfigPath" -}}
{{- printf "%s/models.config" (trimSuffix "/" .Values.server.configMountPath) }}
{{- end }}

{{/*
models.config: a text-format tensorflow.serving.ModelServerConfig (protobuf text, not YAML).
*/}}
{{- define "tf-serving.modelsConfig" -}}
model_config_list {
{{- range .Values.models }}
  config {
    name: {{ .name | quote }}
    base_path: {{ .basePath | quote }}
    model_platform: {{ .platform | default "tensorflow" | quote }}
  }
{{- end }}
}
{{- end }}

{{/*
The server's command-line flags, one per list item. Only flags the binary knows: an unknown flag
makes tensorflow_model_server exit at start.
*/}}
{{- define "tf-serving.serverArgs" -}}
- --port={{ .Values.server.grpcPort }}
- --rest_api_port={{ .Values.server.restPort }}
- --model_config_file={{ include "tf-serving.modelConfigPath" . }}
{{- range .Values.server.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
