{{/* Names, labels and the pieces every workload shares. */}}

{{- define "smarter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "smarter.fullname" -}}
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

{{- define "smarter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "smarter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "smarter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smarter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one workload: pass (dict "root" $ "component" "web"). */}}
{{- define "smarter.componentSelectorLabels" -}}
{{ include "smarter.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "smarter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "smarter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "smarter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "smarter.secretName" -}}
{{- default (printf "%s-secrets" (include "smarter.fullname" .)) .Values.existingSecret }}
{{- end }}

{{- define "smarter.configMapName" -}}
{{- printf "%s-config" (include "smarter.fullname" .) }}
{{- end }}

{{/* The secret settings, read from files of the mounted Secret (SMARTER_<NAME>_FILE). */}}
{{- define "smarter.secretSettings" -}}
{{- list "SMARTER_SECRET_KEY" "SMARTER_OPENAI_API_KEY" "SMARTER_FERNET_KEYS" "SMARTER_DATABASE_URL" "SMARTER_REDIS_URL" "SMARTER_EMAIL_PASSWORD" "SMARTER_KNOWLEDGE_INDEX_URL" "SMARTER_METRICS_TOKEN" "SMARTER_SENTRY_DSN" | toJson }}
{{- end }}

{{/* Settings: the non-secret ones as environment from the ConfigMap, the secret ones as files. */}}
{{- define "smarter.envFrom" -}}
- configMapRef:
    name: {{ include "smarter.configMapName" . }}
{{- end }}

{{- define "smarter.env" -}}
{{- range include "smarter.secretSettings" . | fromJsonArray }}
- name: {{ . }}_FILE
  value: /var/run/secrets/smarter/{{ . }}
{{- end }}
{{- end }}

{{/* Metrics: the port each worker serves /metrics on (0: none). */}}
{{- define "smarter.workerMetricsPort" -}}
{{- if .Values.config.workerMetricsPort }}
{{- .Values.config.workerMetricsPort }}
{{- else if .Values.metrics.enabled }}
{{- 9100 }}
{{- else }}
{{- 0 }}
{{- end }}
{{- end }}

{{/* Several processes of a pod (gunicorn workers, Celery's pool) count into files of one
folder, which /metrics adds up: the environment and the volume of the web and worker pods. */}}
{{- define "smarter.metricsDir" -}}/tmp/prometheus-metrics{{- end }}

{{- define "smarter.metricsEnv" -}}
- name: PROMETHEUS_MULTIPROC_DIR
  value: {{ include "smarter.metricsDir" . }}
{{- end }}

{{- define "smarter.metricsVolume" -}}
- name: metrics
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{- define "smarter.metricsVolumeMount" -}}
- name: metrics
  mountPath: {{ include "smarter.metricsDir" . }}
{{- end }}

{{/* The writable volumes behind a read-only root filesystem. */}}
{{- define "smarter.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.volumes.tmpSizeLimit }}
- name: state
  emptyDir:
    sizeLimit: {{ .Values.volumes.stateSizeLimit }}
- name: secrets
  secret:
    secretName: {{ include "smarter.secretName" . }}
    defaultMode: 0440
{{- end }}

{{- define "smarter.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: state
  mountPath: {{ .Values.config.stateDir }}
- name: secrets
  mountPath: /var/run/secrets/smarter
  readOnly: true
{{- end }}

{{/* Pod-level settings every workload shares. */}}
{{- define "smarter.podCommon" -}}
serviceAccountName: {{ include "smarter.serviceAccountName" . }}
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
{{- end }}

{{/* Pod annotations: a change of settings rolls the pods. */}}
{{- define "smarter.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ printf "%s%s" .Values.existingSecret (toJson .Values.secrets) | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The migrate Job needs the settings before the release's own objects exist: the ConfigMap
and Secret are created first, as hooks with a lower weight than the Job. */}}
{{- define "smarter.settingsHookAnnotations" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: "-10"
helm.sh/hook-delete-policy: before-hook-creation
{{- end }}

{{/* Findings of the security scanner (checkov) that do not apply, each with its reason. */}}
{{- define "smarter.scannerSkips" -}}
checkov.io/skip1: CKV_K8S_15=Release tags are immutable in the registry (ECR IMMUTABLE) so a cached image is the released one
checkov.io/skip2: CKV_K8S_43=Release tags are immutable in the registry; the tag is pinned in the values and its digest is not known when they are written
{{- end }}
