{{/* Names: 63 characters at most (DNS label), as Kubernetes wants for most names. */}}
{{- define "sigv4-sidecar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sigv4-sidecar.fullname" -}}
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

{{- define "sigv4-sidecar.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selectors are immutable once a Deployment exists: name and instance only, never the version. */}}
{{- define "sigv4-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sigv4-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* On every object. */}}
{{- define "sigv4-sidecar.labels" -}}
helm.sh/chart: {{ include "sigv4-sidecar.chart" . }}
{{ include "sigv4-sidecar.selectorLabels" . }}
app.kubernetes.io/version: {{ include "sigv4-sidecar.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sigv4-sidecar
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "sigv4-sidecar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sigv4-sidecar.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sigv4-sidecar.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "sigv4-sidecar.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "sigv4-sidecar.imageTag" .) }}
{{- end }}
{{- end }}

{{/* The label a client pod carries to pass the default NetworkPolicy on the proxy port. */}}
{{- define "sigv4-sidecar.clientLabel" -}}
{{- printf "%s-client" (include "sigv4-sidecar.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The proxy's bind host: loopback in the sidecar mode, whatever a pod-IP client needs in standalone. */}}
{{- define "sigv4-sidecar.proxyHost" -}}
{{- if eq .Values.mode "sidecar" }}127.0.0.1{{ else }}{{ .Values.listenAddress }}{{ end }}
{{- end }}

{{/*
The config file: the user's `config` plus the chart's listen and admin_listen. Rendered once here so that the
ConfigMap and the checksum/config annotation always agree.
*/}}
{{- define "sigv4-sidecar.configYaml" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- if or (hasKey $cfg "listen") (hasKey $cfg "admin_listen") }}
{{- fail "config.listen and config.admin_listen are the chart's: set listenAddress, adminListenAddress and ports instead" }}
{{- end }}
{{- $_ := set $cfg "listen" (printf "%s:%d" (include "sigv4-sidecar.proxyHost" .) (int .Values.ports.proxy)) }}
{{- $_ := set $cfg "admin_listen" (printf "%s:%d" .Values.adminListenAddress (int .Values.ports.admin)) }}
{{- toYaml $cfg }}
{{- end }}

{{/*
timeouts.shutdown_grace in whole seconds (rounded up), from a Prometheus duration such as 15s, 1m30s or
500ms; 15 when unset (the sidecar's default).
*/}}
{{- define "sigv4-sidecar.shutdownGraceSeconds" -}}
{{- $grace := "15s" }}
{{- with .Values.config }}{{ with .timeouts }}{{ with .shutdown_grace }}{{ $grace = toString . }}{{ end }}{{ end }}{{ end }}
{{- if not (regexMatch "^([0-9]+(ms|s|m|h))+$" $grace) }}
{{- fail (printf "config.timeouts.shutdown_grace %q: use ms, s, m and h units (e.g. 15s, 1m30s)" $grace) }}
{{- end }}
{{- $ms := 0 }}
{{- range regexFindAll "[0-9]+(ms|s|m|h)" $grace -1 }}
{{- $n := regexFind "^[0-9]+" . | int }}
{{- $unit := regexReplaceAll "^[0-9]+" . "" }}
{{- if eq $unit "ms" }}{{ $ms = add $ms $n }}
{{- else if eq $unit "s" }}{{ $ms = add $ms (mul $n 1000) }}
{{- else if eq $unit "m" }}{{ $ms = add $ms (mul $n 60000) }}
{{- else }}{{ $ms = add $ms (mul $n 3600000) }}
{{- end }}
{{- end }}
{{- div (add $ms 999) 1000 }}
{{- end }}

{{/* Checks that span several values; called from the workload templates and the ConfigMap. */}}
{{- define "sigv4-sidecar.validate" -}}
{{- $grace := include "sigv4-sidecar.shutdownGraceSeconds" . | int }}
{{- $needed := add $grace (int .Values.preStopSleepSeconds) }}
{{- if and (eq .Values.mode "standalone") (le (int .Values.terminationGracePeriodSeconds) $needed) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be above preStopSleepSeconds + config.timeouts.shutdown_grace (%d s): Kubernetes would kill in-flight requests" (int .Values.terminationGracePeriodSeconds) $needed) }}
{{- end }}
{{- if and .Values.podIdentity.enabled (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) }}
{{- fail "podIdentity.enabled: the Pod Identity association names a ServiceAccount; set serviceAccount.name (or serviceAccount.create)" }}
{{- end }}
{{- if and .Values.storage.enabled (eq .Values.storage.type "persistentVolumeClaim") (not .Values.storage.existingClaim) }}
{{- fail "storage.type persistentVolumeClaim needs storage.existingClaim" }}
{{- end }}
{{- if and .Values.storage.enabled (eq .Values.storage.type "persistentVolumeClaim") (gt (int .Values.replicaCount) 1) }}
{{- fail "storage.type persistentVolumeClaim shares one claim: replicaCount must be 1 (use storage.type statefulSet for more)" }}
{{- end }}
{{- if and (eq .Values.mode "sidecar") .Values.networkPolicy.enabled }}
{{- fail "networkPolicy is for the standalone mode: in the sidecar mode the pod (and its policy) is the Prometheus chart's" }}
{{- end }}
{{- if and .Values.irsa.roleArn (not .Values.serviceAccount.create) }}
{{- fail "irsa.roleArn annotates the chart's ServiceAccount: set serviceAccount.create, or annotate your own ServiceAccount" }}
{{- end }}
{{- end }}

{{/* The workload's kind. */}}
{{- define "sigv4-sidecar.statefulSet" -}}
{{- if and .Values.storage.enabled (eq .Values.storage.type "statefulSet") }}true{{ end }}
{{- end }}
