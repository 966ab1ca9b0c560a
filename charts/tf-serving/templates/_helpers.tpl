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
{{ include "tf-serving.releaseLabels" . }}
{{- end }}

{{/*
tf-serving.labels without helm.sh/chart, for pod templates: upgrading the chart without changing
what runs does not roll the pods.
*/}}
{{- define "tf-serving.releaseLabels" -}}
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
