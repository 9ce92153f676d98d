{{/*
What every template shares: names, labels, the image, the pods' security, and the environment. Each piece
is defined once here so that the migrate hook, the reconciler and the pollers cannot drift apart.
*/}}

{{- define "mizan.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" }}
{{- end }}

{{/* <release>, or <release>-mizan when the release name does not contain the chart's name. */}}
{{- define "mizan.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The image tag: image.tag, else the chart's appVersion (the release the chart was cut with). */}}
{{- define "mizan.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "mizan.image" -}}
{{- .Values.image.repository }}:{{ include "mizan.tag" . }}{{ with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/* Labels that select a component's pods: (dict "ctx" $ "component" "reconciler"). Never changed by an
upgrade, since a Deployment's selector is immutable. */}}
{{- define "mizan.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mizan.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with get . "component" }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{- define "mizan.labels" -}}
{{ include "mizan.selectorLabels" . }}
app.kubernetes.io/part-of: mizan
app.kubernetes.io/version: {{ include "mizan.tag" .ctx | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mizan.serviceAccountName" -}}
{{ include "mizan.fullname" . }}
{{- end }}

{{/* Pod Security Standard "restricted", user 65532 (the image's). */}}
{{- define "mizan.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "mizan.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* What every pod spec has: no API token, no service links, where it may run, the registry's Secrets. */}}
{{- define "mizan.podCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- include "mizan.podSecurityContext" . | nindent 2 }}
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
{{- end }}

{{/* The ConfigMap <fullname>-config's data, also given inline to the hooks, which run before it exists. */}}
{{- define "mizan.configData" -}}
KAFKA_BROKERS: {{ .Values.config.kafka.brokers | quote }}
KAFKA_TLS: {{ .Values.config.kafka.tls | default false | toString | quote }}
{{- with .Values.config.kafka.tlsCAFile }}
KAFKA_TLS_CA_FILE: {{ . | quote }}
{{- end }}
KAFKA_SASL_MECHANISM: {{ .Values.config.kafka.saslMechanism | default "" | quote }}
MIZAN_TOPIC_PREFIX: {{ .Values.config.topicPrefix | default "" | quote }}
MIZAN_CONSUMER_GROUP: {{ .Values.config.consumerGroup | default "mizan-reconciler" | quote }}
MIZAN_LOG_LEVEL: {{ .Values.config.logLevel | default "info" | quote }}
MIZAN_HTTP_ADDR: ":8080"
{{- range $k, $v := .Values.config.extra }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end }}

{{/* Kafka SASL credentials, from an optional Secret. */}}
{{- define "mizan.kafkaEnv" -}}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.kafka }}
      key: sasl-username
      optional: true
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.kafka }}
      key: sasl-password
      optional: true
{{- end }}

{{/* The environment of every poller, whether a CronJob's or the Deployment's. */}}
{{- define "mizan.pollerEnv" -}}
envFrom:
  - configMapRef:
      name: {{ include "mizan.fullname" . }}-config
  # One key per *_env name in the sources file (VANDAR_ACME_ACCESS_TOKEN, …).
  - secretRef:
      name: {{ .Values.secrets.providerCredentials }}
env:
  - name: MIZAN_SOURCES
    value: /etc/mizan/sources/sources.yaml
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secrets.database }}
        key: url
  - name: MIZAN_SECRET_KEY
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secrets.secretKey }}
        key: key
  - name: MIZAN_SIGNING_KEYS
    valueFrom:
      secretKeyRef:
        name: {{ .Values.secrets.signingKeys }}
        key: keys
  {{- include "mizan.kafkaEnv" . | nindent 2 }}
{{- end }}

{{- define "mizan.pollerVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: sources
  mountPath: /etc/mizan/sources
  readOnly: true
- name: kafka-ca
  mountPath: /etc/mizan/kafka-ca
  readOnly: true
{{- end }}

{{- define "mizan.pollerVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
- name: sources
  configMap:
    name: {{ include "mizan.fullname" . }}-sources
- name: kafka-ca
  secret:
    secretName: {{ .Values.secrets.kafkaCA }}
    optional: true
{{- end }}

{{/* A change of the config or the sources file rolls the pods that read them. */}}
{{- define "mizan.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmaps.yaml") . | sha256sum }}
{{- end }}

{{/* /healthz: the process is alive; /readyz: PostgreSQL and Kafka answer. */}}
{{- define "mizan.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end }}

{{- define "mizan.prometheusAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: "8080"
prometheus.io/path: /metrics
{{- end }}
