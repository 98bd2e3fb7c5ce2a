{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "headroom.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "headroom.fullname" -}}
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

{{/* Name of the metrics Service (and of resources about the metrics port). */}}
{{- define "headroom.metricsName" -}}
{{- printf "%s-metrics" (include "headroom.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "headroom.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "headroom.selectorLabels" -}}
app.kubernetes.io/name: {{ include "headroom.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "headroom.labels" -}}
helm.sh/chart: {{ include "headroom.chart" . }}
{{ include "headroom.selectorLabels" . }}
app.kubernetes.io/version: {{ include "headroom.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: headroom
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "headroom.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "headroom.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (include "headroom.imageTag" .) }}
{{- end }}
{{- end }}

{{- define "headroom.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "headroom.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The ConfigMap holding the providers file, or "" when Headroom uses its built-in catalog. */}}
{{- define "headroom.configMapName" -}}
{{- if .Values.config.existingConfigMap }}
{{- .Values.config.existingConfigMap }}
{{- else if .Values.config.file }}
{{- include "headroom.fullname" . }}
{{- end }}
{{- end }}

{{- define "headroom.configFile" -}}
{{- toYaml .Values.config.file }}
{{- end }}

{{/* Scheme of the metrics listener. */}}
{{- define "headroom.metricsScheme" -}}
{{- if .Values.webConfig.tls }}https{{ else }}http{{ end }}
{{- end }}

{{/*
A Kubernetes probe from a values block ({enabled, httpGet, ...}): the scheme follows
webConfig.tls, and with basic auth on the metrics port an HTTP check would get 401, so it
becomes a TCP check of the same port.
*/}}
{{- define "headroom.probe" -}}
{{- $p := omit .probe "enabled" }}
{{- if and $p.httpGet .root.Values.webConfig.basicAuth }}
{{- $_ := set $p "tcpSocket" (dict "port" $p.httpGet.port) }}
{{- $p = omit $p "httpGet" }}
{{- else if and $p.httpGet .root.Values.webConfig.tls (not $p.httpGet.scheme) }}
{{- $_ := set $p "httpGet" (merge (dict "scheme" "HTTPS") $p.httpGet) }}
{{- end }}
{{- toYaml $p }}
{{- end }}

{{/* Namespace for an optional resource that may live elsewhere (monitors, rules, dashboards). */}}
{{- define "headroom.namespace" -}}
{{- default .root.Release.Namespace .ns }}
{{- end }}
