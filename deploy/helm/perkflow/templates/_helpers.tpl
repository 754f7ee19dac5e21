{{/* Names, labels and the pieces every perkflow pod shares. */}}

{{- define "perkflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "perkflow.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of a component (api, worker, migrate): include with (list $ "api"). */}}
{{- define "perkflow.selector" -}}
app.kubernetes.io/name: {{ (index . 0).Chart.Name }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "perkflow.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "perkflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "perkflow.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{/* The Secret holding DATABASE_URL, and the one holding perkflow's own secrets. */}}
{{- define "perkflow.postgresSecret" -}}
{{ .Values.postgres.existingSecret | default (include "perkflow.fullname" .) }}
{{- end -}}
{{- define "perkflow.appSecret" -}}
{{ .Values.secrets.existingSecret | default (include "perkflow.fullname" .) }}
{{- end -}}

{{/* A variable from a key of perkflow's Secret: (list $ "VARIABLE" optional). */}}
{{- define "perkflow.secretEnv" -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ include "perkflow.appSecret" (index . 0) }}
      key: {{ index . 1 }}
      optional: {{ index . 2 }}
{{- end -}}

{{/* What every process reads: Postgres, Temporal (with its TLS and API key), logs, metrics, tracing. */}}
{{- define "perkflow.commonEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "perkflow.postgresSecret" . }}
      key: {{ .Values.postgres.existingSecretKey }}
- name: TEMPORAL_ADDRESS
  value: {{ .Values.temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
- name: PERKFLOW_TASK_QUEUE
  value: {{ .Values.temporal.taskQueue | quote }}
- name: PERKFLOW_WEBHOOK_ALLOW_PRIVATE
  value: {{ .Values.config.webhookAllowPrivate | quote }}
- name: TEMPORAL_TLS
  value: {{ .Values.temporal.tls.enabled | quote }}
{{- with .Values.temporal.tls.existingSecret }}
- name: TEMPORAL_TLS_CERT
  value: /etc/perkflow/temporal-tls/tls.crt
- name: TEMPORAL_TLS_KEY
  value: /etc/perkflow/temporal-tls/tls.key
{{- if $.Values.temporal.tls.ca }}
- name: TEMPORAL_TLS_CA
  value: /etc/perkflow/temporal-tls/ca.crt
{{- end }}
{{- end }}
{{- with .Values.temporal.tls.serverName }}
- name: TEMPORAL_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- with .Values.temporal.apiKey.existingSecret }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.temporal.apiKey.existingSecretKey }}
{{- end }}
- name: PERKFLOW_LOG_FORMAT
  value: json
- name: PERKFLOW_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: PERKFLOW_METRICS_ADDR
  value: {{ printf "0.0.0.0:%v" .Values.metrics.port | quote }}
{{- with .Values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $.Values.tracing.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $.Values.tracing.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $.Values.tracing.samplerArg | quote }}
{{- end }}
{{- end -}}

{{/* Volumes: a writable /tmp (the root filesystem is read-only) and Temporal's client certificate. */}}
{{- define "perkflow.volumes" -}}
- name: tmp
  emptyDir: {}
{{- with .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  secret:
    secretName: {{ . }}
{{- end }}
{{- end -}}

{{- define "perkflow.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.temporal.tls.existingSecret }}
- name: temporal-tls
  mountPath: /etc/perkflow/temporal-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* The pod-level settings every perkflow pod shares. */}}
{{- define "perkflow.podSpec" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  {{- include "perkflow.volumes" . | nindent 2 }}
{{- end -}}
