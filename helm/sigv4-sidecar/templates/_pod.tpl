{{/* The sidecar's container arguments (also printed by NOTES.txt for the sidecar mode). */}}
{{- define "sigv4-sidecar.args" -}}
- --config=/etc/sigv4-sidecar/config.yaml
{{- if .Values.storage.enabled }}
- --storage.path={{ .Values.storage.path }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/* The pod template of the standalone Deployment / StatefulSet. */}}
{{- define "sigv4-sidecar.podTemplate" -}}
metadata:
  labels:
    {{- include "sigv4-sidecar.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "sigv4-sidecar.configYaml" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "sigv4-sidecar.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: sigv4-sidecar
      image: {{ include "sigv4-sidecar.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        {{- include "sigv4-sidecar.args" . | nindent 8 }}
      ports:
        {{- if ne .Values.mode "sidecar" }}
        - name: proxy
          containerPort: {{ .Values.ports.proxy }}
          protocol: TCP
        {{- end }}
        - name: admin
          containerPort: {{ .Values.ports.admin }}
          protocol: TCP
      {{- if or .Values.aws.region .Values.env }}
      env:
        {{- with .Values.aws.region }}
        - name: AWS_REGION
          value: {{ . | quote }}
        - name: AWS_DEFAULT_REGION
          value: {{ . | quote }}
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.startupProbe }}
      startupProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if gt (int .Values.preStopSleepSeconds) 0 }}
      lifecycle:
        preStop:
          exec:
            command: [/bin/sleep, {{ .Values.preStopSleepSeconds | int | toString | quote }}]
      {{- end }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/sigv4-sidecar
          readOnly: true
        {{- if .Values.storage.enabled }}
        - name: storage
          mountPath: {{ .Values.storage.path }}
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "sigv4-sidecar.fullname" . }}
    {{- if and .Values.storage.enabled (eq .Values.storage.type "emptyDir") }}
    {{- $emptyDir := dict }}
    {{- with .Values.storage.emptyDir.medium }}{{ $_ := set $emptyDir "medium" . }}{{ end }}
    {{- with .Values.storage.emptyDir.sizeLimit }}{{ $_ := set $emptyDir "sizeLimit" . }}{{ end }}
    - name: storage
      emptyDir: {{ toJson $emptyDir }}
    {{- else if and .Values.storage.enabled (eq .Values.storage.type "persistentVolumeClaim") }}
    - name: storage
      persistentVolumeClaim:
        claimName: {{ .Values.storage.existingClaim }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range . }}
    {{- $c := deepCopy . }}
    {{- if not (hasKey $c "labelSelector") }}
    {{- $_ := set $c "labelSelector" (dict "matchLabels" (include "sigv4-sidecar.selectorLabels" $ | fromYaml)) }}
    {{- end }}
    {{- toYaml (list $c) | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}
