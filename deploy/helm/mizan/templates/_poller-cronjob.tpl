{{/* One poller CronJob (templates/pollers.yaml): (dict "ctx" $ "source" NAME "feed" FEED-or-"" "schedule" SPEC). */}}
{{- define "mizan.pollerCronJob" -}}
{{- $ := .ctx }}
{{- $name := printf "%s-poller-%s" (include "mizan.fullname" $) .source }}
{{- if .feed }}{{ $name = printf "%s-%s" $name .feed }}{{ end }}
{{- if gt (len $name) 52 }}
{{- fail (printf "CronJob %s: longer than Kubernetes' 52 characters; shorten the release or source name, or set fullnameOverride" $name) }}
{{- end }}
# `poller once --source {{ .source }}{{ with .feed }} --feed {{ . }}{{ end }}` on a schedule. A run that finds
# the previous one still going is skipped (Forbid); the cursor moves only after a page is published.
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ $name }}
  labels:
    {{- include "mizan.labels" (dict "ctx" $ "component" "poller") | nindent 4 }}
    mizan/source: {{ .source }}
    {{- with .feed }}
    mizan/feed: {{ . }}
    {{- end }}
spec:
  schedule: {{ .schedule | quote }}
  timeZone: Etc/UTC
  concurrencyPolicy: Forbid
  # A tick that could not start within 45 s is skipped rather than run late on top of the next one.
  startingDeadlineSeconds: 45
  successfulJobsHistoryLimit: 1
  failedJobsHistoryLimit: 3
  jobTemplate:
    metadata:
      labels:
        {{- include "mizan.labels" (dict "ctx" $ "component" "poller") | nindent 8 }}
        mizan/source: {{ .source }}
    spec:
      # A failed poll is retried once at once; after that the next tick tries again.
      backoffLimit: 1
      activeDeadlineSeconds: {{ $.Values.pollers.cronJobs.activeDeadlineSeconds | default 600 }}
      template:
        metadata:
          labels:
            {{- include "mizan.labels" (dict "ctx" $ "component" "poller") | nindent 12 }}
            mizan/source: {{ .source }}
          annotations:
            {{- include "mizan.checksums" $ | nindent 12 }}
        spec:
          restartPolicy: Never
          serviceAccountName: {{ include "mizan.serviceAccountName" $ }}
          terminationGracePeriodSeconds: 30
          {{- include "mizan.podCommon" $ | nindent 10 }}
          containers:
            - name: poller
              image: {{ include "mizan.image" $ }}
              imagePullPolicy: {{ $.Values.image.pullPolicy }}
              command: ["/usr/local/bin/poller"]
              args: ["once", "--source", {{ .source | quote }}{{ with .feed }}, "--feed", {{ . | quote }}{{ end }}]
              {{- include "mizan.pollerEnv" $ | nindent 14 }}
              resources:
                {{- toYaml $.Values.pollers.resources | nindent 16 }}
              securityContext:
                {{- include "mizan.containerSecurityContext" $ | nindent 16 }}
              volumeMounts:
                {{- include "mizan.pollerVolumeMounts" $ | nindent 16 }}
          volumes:
            {{- include "mizan.pollerVolumes" $ | nindent 12 }}
{{- end }}
