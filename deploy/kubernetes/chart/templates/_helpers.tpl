{{/*
The chart name, truncated to 63 characters (a DNS label).
*/}}
{{- define "blog-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of every resource: RELEASE-NAME, or RELEASE alone when it
already contains the chart name; fullnameOverride wins.
*/}}
{{- define "blog-api.fullname" -}}
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
chart label: NAME-VERSION.
*/}}
{{- define "blog-api.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable for the life of the release (a Deployment's selector
is immutable).
*/}}
{{- define "blog-api.selectorLabels" -}}
app.kubernetes.io/name: {{ include "blog-api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Standard labels of every resource.
*/}}
{{- define "blog-api.labels" -}}
helm.sh/chart: {{ include "blog-api.chart" . }}
{{ include "blog-api.selectorLabels" . }}
app.kubernetes.io/version: {{ include "blog-api.version" . | quote }}
app.kubernetes.io/component: api
app.kubernetes.io/part-of: {{ include "blog-api.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The app's version: the image tag (default: the chart's appVersion).
*/}}
{{- define "blog-api.version" -}}
{{- default .Chart.AppVersion .Values.image.tag | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The image reference: repository@digest when a digest is set, else repository:tag.
*/}}
{{- define "blog-api.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "blog-api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "blog-api.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret the credentials come from.
*/}}
{{- define "blog-api.secretName" -}}
{{- default (include "blog-api.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
terminationGracePeriodSeconds: longer than the drain plus the shutdown
timeout, or the kubelet kills requests the app would have finished. Null
computes drain + timeout + 10 s for the telemetry flush (app/serve.go bounds
tel.Shutdown at 10 s); a number that is too short fails the render.
*/}}
{{- define "blog-api.terminationGracePeriodSeconds" -}}
{{- $drain := int .Values.shutdown.drainDelaySeconds }}
{{- $timeout := int .Values.shutdown.timeoutSeconds }}
{{- $needed := add $drain $timeout }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $needed 10 }}
{{- else }}
{{- $grace := int .Values.terminationGracePeriodSeconds }}
{{- if le $grace $needed }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be longer than shutdown.drainDelaySeconds (%d) + shutdown.timeoutSeconds (%d) = %d: the kubelet would kill the pod while it still drains or finishes requests; set it to at least %d (or leave it null to compute %d)" $grace $drain $timeout $needed (add1 $needed) (add $needed 10)) }}
{{- end }}
{{- $grace }}
{{- end }}
{{- end }}

{{/*
Whether more than one pod always runs (the PodDisruptionBudget is rendered
only then).
*/}}
{{- define "blog-api.multiReplica" -}}
{{- if .Values.autoscaling.enabled }}
{{- if gt (int .Values.autoscaling.minReplicas) 1 }}true{{ end }}
{{- else if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{/*
OTEL_RESOURCE_ATTRIBUTES: where the pod runs (downward API variables declared
before it in env), the environment and the version, then the extra ones.
dict "root" $ "deployment" DEPLOYMENT-NAME.
*/}}
{{- define "blog-api.resourceAttributes" -}}
{{- $attrs := list
  "k8s.pod.name=$(K8S_POD_NAME)"
  "k8s.pod.uid=$(K8S_POD_UID)"
  "k8s.namespace.name=$(K8S_NAMESPACE_NAME)"
  "k8s.node.name=$(K8S_NODE_NAME)"
  (printf "k8s.deployment.name=%s" .deployment)
  (printf "deployment.environment.name=%s" .root.Values.environment)
  (printf "service.version=%s" (include "blog-api.version" .root)) }}
{{- range $k, $v := .root.Values.otel.resourceAttributes }}
{{- $attrs = append $attrs (printf "%s=%v" $k $v) }}
{{- end }}
{{- join "," $attrs }}
{{- end }}

{{/*
The worker (`app worker`, worker.enabled): its own name, and selector labels
that differ from the API's in app.kubernetes.io/name, so that neither the
API's Deployment, Service, HPA, PDB, spread nor NetworkPolicy ever selects a
worker pod (the API's selector is immutable: it cannot gain a component).
*/}}
{{- define "blog-api.worker.fullname" -}}
{{- printf "%s-worker" (include "blog-api.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "blog-api.worker.selectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-worker" (include "blog-api.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "blog-api.worker.labels" -}}
helm.sh/chart: {{ include "blog-api.chart" . }}
{{ include "blog-api.worker.selectorLabels" . }}
app.kubernetes.io/version: {{ include "blog-api.version" . | quote }}
app.kubernetes.io/component: worker
app.kubernetes.io/part-of: {{ include "blog-api.name" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The worker's terminationGracePeriodSeconds: longer than SHUTDOWN_TIMEOUT,
within which running jobs finish (a worker has no drain: nothing routes to
it). Null computes the timeout + 10 s for the telemetry flush.
*/}}
{{- define "blog-api.worker.terminationGracePeriodSeconds" -}}
{{- $timeout := int .Values.worker.shutdownTimeoutSeconds }}
{{- if kindIs "invalid" .Values.worker.terminationGracePeriodSeconds }}
{{- add $timeout 10 }}
{{- else }}
{{- $grace := int .Values.worker.terminationGracePeriodSeconds }}
{{- if le $grace $timeout }}
{{- fail (printf "worker.terminationGracePeriodSeconds (%d) must be longer than worker.shutdownTimeoutSeconds (%d): the kubelet would kill jobs the worker would have finished; set it to at least %d (or leave it null to compute %d)" $grace $timeout (add1 $timeout) (add $timeout 10)) }}
{{- end }}
{{- $grace }}
{{- end }}
{{- end }}

{{/*
The downward API variables, first in env: later values refer to them as
$(NAME).
*/}}
{{- define "blog-api.downwardEnv" -}}
- name: HOST_IP
  valueFrom:
    fieldRef:
      fieldPath: status.hostIP
- name: K8S_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: K8S_POD_UID
  valueFrom:
    fieldRef:
      fieldPath: metadata.uid
- name: K8S_NAMESPACE_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: K8S_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- end }}

{{/*
The OTEL_* variables of a Deployment: dict "root" $ "serviceName" NAME
"deployment" DEPLOYMENT-NAME.
*/}}
{{- define "blog-api.otelEnv" -}}
{{- $v := .root.Values -}}
- name: OTEL_SERVICE_NAME
  value: {{ .serviceName | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ include "blog-api.resourceAttributes" (dict "root" .root "deployment" .deployment) | quote }}
{{- with $v.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $v.otel.protocol | quote }}
{{- end }}
- name: OTEL_TRACES_EXPORTER
  value: {{ $v.otel.tracesExporter | quote }}
- name: OTEL_LOGS_EXPORTER
  value: {{ $v.otel.logsExporter | quote }}
- name: OTEL_METRICS_EXPORTER
  value: {{ $v.otel.metricsExporter | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $v.otel.tracesSampler | quote }}
{{- with $v.otel.tracesSamplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- if $v.otel.sdkObservability }}
- name: OTEL_GO_X_OBSERVABILITY
  value: "true"
{{- end }}
{{- end }}

{{/*
Continuous profiling (PYROSCOPE_*), the same in every Deployment: nothing
unless profiling.serverAddress is set. The password comes from the Secret
(optional key), and only with a user to go with it.
*/}}
{{- define "blog-api.profilingEnv" -}}
{{- $v := .Values.profiling -}}
{{- with $v.serverAddress }}
- name: PYROSCOPE_SERVER_ADDRESS
  value: {{ . | quote }}
{{- with $v.tenantId }}
- name: PYROSCOPE_TENANT_ID
  value: {{ . | quote }}
{{- end }}
{{- if and $v.basicAuthUser $.Values.secrets.keys.pyroscopeBasicAuthPassword }}
- name: PYROSCOPE_BASIC_AUTH_USER
  value: {{ $v.basicAuthUser | quote }}
- name: PYROSCOPE_BASIC_AUTH_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "blog-api.secretName" $ }}
      key: {{ $.Values.secrets.keys.pyroscopeBasicAuthPassword }}
      optional: true
{{- end }}
{{- end }}
{{- end }}

{{/*
What the process that runs jobs needs: JOB_WORKERS, the sender, and the SMTP
server from the Secret (optional: without the key the welcome email is
skipped). dict "root" $ "jobWorkers" N.
*/}}
{{- define "blog-api.jobsEnv" -}}
{{- $v := .root.Values -}}
- name: JOB_WORKERS
  value: {{ .jobWorkers | int | toString | quote }}
{{- if gt (int .jobWorkers) 0 }}
- name: SMTP_FROM
  value: {{ $v.config.smtpFrom | quote }}
{{- with $v.secrets.keys.smtpUrl }}
- name: SMTP_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "blog-api.secretName" $.root }}
      key: {{ . }}
      optional: true
{{- end }}
{{- end }}
{{- end }}
