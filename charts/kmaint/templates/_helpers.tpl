{{/* Object names are capped at 63 characters (DNS labels). */}}
{{- define "kmaint.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kmaint.fullname" -}}
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

{{/* Labels of every object; the selector labels (name, instance) are added per component. */}}
{{- define "kmaint.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kmaint
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* ---- operator ---- */}}
{{- define "kmaint.operator.fullname" -}}
{{- printf "%s-operator" (include "kmaint.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kmaint.operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kmaint.name" . }}-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kmaint.operator.labels" -}}
{{ include "kmaint.labels" . }}
{{ include "kmaint.operator.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "kmaint.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "kmaint.operator.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* ---- consumer ---- */}}
{{- define "kmaint.consumer.selectorLabels" -}}
app: {{ .Values.consumer.name }}
app.kubernetes.io/name: {{ .Values.consumer.name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kmaint.consumer.labels" -}}
{{ include "kmaint.labels" . }}
{{ include "kmaint.consumer.selectorLabels" . }}
app.kubernetes.io/component: consumer
{{- end }}

{{- define "kmaint.consumer.maintenanceKey" -}}
{{- if .Values.consumer.maintenanceKey }}
{{- .Values.consumer.maintenanceKey }}
{{- else }}
{{- printf "/maintenance/%s" (default .Values.consumer.name .Values.consumer.target) }}
{{- end }}
{{- end }}

{{/* SHUTDOWN_GRACE_PERIOD in seconds: the service's whole budget after SIGTERM. */}}
{{- define "kmaint.consumer.shutdownGracePeriodSeconds" -}}
{{- $c := .Values.consumer }}
{{- if kindIs "invalid" $c.shutdownGracePeriodSeconds }}
{{- add $c.drainTimeoutSeconds 10 }}
{{- else if lt (int $c.shutdownGracePeriodSeconds) (int $c.drainTimeoutSeconds) }}
{{- fail (printf "consumer.shutdownGracePeriodSeconds (%v) must be at least consumer.drainTimeoutSeconds (%v), or a SIGTERM cuts the drain short" $c.shutdownGracePeriodSeconds $c.drainTimeoutSeconds) }}
{{- else }}
{{- $c.shutdownGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
The grace period counts from the deletion, so it has to cover the preStop sleep plus the service's
shutdown (drain, commit, leave, close); a shorter explicit value would let the kubelet SIGKILL a
consumer mid-drain, so it is refused.
*/}}
{{- define "kmaint.consumer.terminationGracePeriodSeconds" -}}
{{- $c := .Values.consumer }}
{{- $needed := add $c.preStop.sleepSeconds (include "kmaint.consumer.shutdownGracePeriodSeconds" . | int) }}
{{- if kindIs "invalid" $c.terminationGracePeriodSeconds }}
{{- add $needed $c.terminationMarginSeconds }}
{{- else if le (int $c.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "consumer.terminationGracePeriodSeconds (%v) must exceed consumer.preStop.sleepSeconds + the shutdown grace period (%v), or the kubelet kills the consumer before its drain ends" $c.terminationGracePeriodSeconds $needed) }}
{{- else }}
{{- $c.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/* ---- shared ---- */}}
{{/*
registry/repository, then @digest when one is set (it pins the image; a tag beside it would only
mislead), else :tag (the chart's appVersion by default).
*/}}
{{- define "kmaint.image" -}}
{{- $registry := default .global.imageRegistry .image.registry }}
{{- $repository := ternary (printf "%s/%s" $registry .image.repository) .image.repository (ne $registry "") }}
{{- if .image.digest }}
{{- printf "%s@%s" $repository .image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/* etcd connection variables, identical for the operator and the consumer. */}}
{{- define "kmaint.etcd.env" -}}
- name: ETCD_ENDPOINTS
  value: {{ join "," .Values.etcd.endpoints | quote }}
{{- with .Values.etcd.tls }}
{{- if .secretName }}
- name: ETCD_CA_FILE
  value: /etc/kmaint/etcd-tls/{{ .caKey }}
{{- if .certKey }}
- name: ETCD_CERT_FILE
  value: /etc/kmaint/etcd-tls/{{ .certKey }}
- name: ETCD_KEY_FILE
  value: /etc/kmaint/etcd-tls/{{ .keyKey }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.etcd.auth }}
{{- if .secretName }}
- name: ETCD_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .usernameKey }}
- name: ETCD_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .passwordKey }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kmaint.etcd.volumeMounts" -}}
{{- if .Values.etcd.tls.secretName }}
- name: etcd-tls
  mountPath: /etc/kmaint/etcd-tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "kmaint.etcd.volumes" -}}
{{- if .Values.etcd.tls.secretName }}
- name: etcd-tls
  secret:
    secretName: {{ .Values.etcd.tls.secretName }}
    # 0440 (written in decimal: YAML 1.1 and 1.2 read a leading 0 differently).
    defaultMode: 288
{{- end }}
{{- end }}

{{/* The example consumer's TLS and SASL to Kafka: files from a mounted Secret, credentials from a Secret. */}}
{{- define "kmaint.consumer.kafka.env" -}}
{{- with .Values.consumer.kafka.tls }}
{{- if .enabled }}
- name: KAFKA_TLS
  value: "true"
{{- if .secretName }}
{{- if .caKey }}
- name: KAFKA_CA_FILE
  value: /etc/kmaint/kafka-tls/{{ .caKey }}
{{- end }}
{{- if .certKey }}
- name: KAFKA_CERT_FILE
  value: /etc/kmaint/kafka-tls/{{ .certKey }}
- name: KAFKA_KEY_FILE
  value: /etc/kmaint/kafka-tls/{{ .keyKey }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.consumer.kafka.sasl }}
{{- if .mechanism }}
- name: KAFKA_SASL_MECHANISM
  value: {{ .mechanism | quote }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ required "consumer.kafka.sasl.secretName is needed with a SASL mechanism" .secretName }}
      key: {{ .usernameKey }}
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .passwordKey }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kmaint.consumer.kafka.volumeMounts" -}}
{{- if and .Values.consumer.kafka.tls.enabled .Values.consumer.kafka.tls.secretName }}
- name: kafka-tls
  mountPath: /etc/kmaint/kafka-tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "kmaint.consumer.kafka.volumes" -}}
{{- if and .Values.consumer.kafka.tls.enabled .Values.consumer.kafka.tls.secretName }}
- name: kafka-tls
  secret:
    secretName: {{ .Values.consumer.kafka.tls.secretName }}
    # 0440, as the etcd one.
    defaultMode: 288
{{- end }}
{{- end }}

{{/*
The produce endpoint's token as a file (consumer.messagesSend.tokenSecret.as: file). The whole folder is
mounted, not a subPath: the kubelet updates a Secret volume in place only then, so a rotation arrives.
*/}}
{{- define "kmaint.consumer.sendToken.file" -}}
{{- with .Values.consumer.messagesSend }}
{{- if and (eq .mode "token") (ne .tokenSecret.as "env") }}true{{ end }}
{{- end }}
{{- end }}

{{- define "kmaint.consumer.sendToken.volumeMounts" -}}
{{- if include "kmaint.consumer.sendToken.file" . }}
- name: send-token
  mountPath: /etc/kmaint/send-token
  readOnly: true
{{- end }}
{{- end }}

{{- define "kmaint.consumer.sendToken.volumes" -}}
{{- if include "kmaint.consumer.sendToken.file" . }}
- name: send-token
  secret:
    secretName: {{ .Values.consumer.messagesSend.tokenSecret.name }}
    items:
      - key: {{ .Values.consumer.messagesSend.tokenSecret.key }}
        path: token
    # 0440, as the etcd one.
    defaultMode: 288
{{- end }}
{{- end }}

{{- define "kmaint.downwardEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end }}

{{/*
The kmaint-agent native sidecar of the consumer (consumer.agent.*): its readiness is the pod's, 503 from
the moment a window opens until the app says it resumed.
*/}}
{{- define "kmaint.consumer.agent" -}}
{{- $c := .Values.consumer -}}
{{- $a := $c.agent -}}
- name: kmaint-agent
  image: {{ include "kmaint.image" (dict "image" $a.image "chart" .Chart "global" (default (dict) .Values.global)) | quote }}
  imagePullPolicy: {{ $a.image.pullPolicy }}
  restartPolicy: Always
  ports:
    - name: agent
      containerPort: {{ $a.port }}
      protocol: TCP
  env:
    - name: AGENT_PORT
      value: {{ $a.port | quote }}
    - name: MAINTENANCE_KEY
      value: {{ include "kmaint.consumer.maintenanceKey" . | quote }}
    - name: APP_TIMEOUT
      value: {{ $a.appTimeout | quote }}
    - name: DRAIN_TIMEOUT
      value: {{ printf "%ds" (int $c.drainTimeoutSeconds) | quote }}
    - name: LOG_LEVEL
      value: {{ $a.logLevel | quote }}
    {{- include "kmaint.downwardEnv" . | nindent 4 }}
    {{- include "kmaint.etcd.env" . | nindent 4 }}
    {{- with $a.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  startupProbe:
    httpGet:
      path: /livez
      port: agent
    periodSeconds: 1
    failureThreshold: 30
  livenessProbe:
    httpGet:
      path: /livez
      port: agent
    periodSeconds: 10
    failureThreshold: 3
  readinessProbe:
    httpGet:
      path: /readyz
      port: agent
    periodSeconds: 2
    failureThreshold: 1
  {{- with $a.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with (include "kmaint.etcd.volumeMounts" .) }}
  volumeMounts:
    {{- . | nindent 4 }}
  {{- end }}
{{- end }}
