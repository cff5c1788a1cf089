{{/*
Chart name, shortened to the 63 characters a label value may hold.
*/}}
{{- define "sfconn-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name that every resource name starts with: the release name, plus the chart name
unless the release name already contains it. Resource names append a suffix of up to 37
characters, so this is cut at 26.
*/}}
{{- define "sfconn-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 26 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 26 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 26 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "sfconn-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select the manager's pods. They must not change after the first install: a
Deployment's selector is immutable.
*/}}
{{- define "sfconn-operator.selectorLabels" -}}
control-plane: controller-manager
app.kubernetes.io/name: {{ include "sfconn-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every object of the chart: the chart's own, then commonLabels.
*/}}
{{- define "sfconn-operator.labels" -}}
helm.sh/chart: {{ include "sfconn-operator.chart" . }}
{{ include "sfconn-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Name of the ServiceAccount the manager runs as.
*/}}
{{- define "sfconn-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller-manager" (include "sfconn-operator.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Namespace of the leader election Lease and of the approval key Secret.
*/}}
{{- define "sfconn-operator.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{/*
Name of the metrics port: https when the endpoint is secure, else http.
*/}}
{{- define "sfconn-operator.metricsPortName" -}}
{{- if .Values.metrics.secure }}https{{ else }}http{{ end }}
{{- end }}

{{/*
Image reference of the manager: repository@digest when a digest is set, so that the image
cannot change under the release; else repository:tag.
*/}}
{{- define "sfconn-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Name of the metrics Service, and the DNS name a verifying scraper expects in the manager's
certificate.
*/}}
{{- define "sfconn-operator.metricsServiceName" -}}
{{- include "sfconn-operator.fullname" . }}-controller-manager-metrics-service
{{- end }}

{{/*
Where the manager reads its metrics certificate (metrics.certSecret) from.
*/}}
{{- define "sfconn-operator.metricsCertPath" -}}
/var/run/sfconn/metrics-cert
{{- end }}

{{/*
Name of the ServiceAccount the chart creates for Prometheus to scrape with, when
serviceMonitor.authorization.credentials.name is empty.
*/}}
{{- define "sfconn-operator.scraperName" -}}
{{- include "sfconn-operator.fullname" . }}-metrics-scraper
{{- end }}

{{/*
Whether the chart creates that ServiceAccount: a secure endpoint, scraped by the chart's
ServiceMonitor, with no token Secret of the user's.
*/}}
{{- define "sfconn-operator.createScraper" -}}
{{- if and .Values.metrics.enabled .Values.metrics.secure .Values.serviceMonitor.enabled (not .Values.serviceMonitor.authorization.credentials.name) }}true{{ end }}
{{- end }}

{{/*
Checks of values that would install a broken or unsafe operator. Included by the
Deployment, so that `helm template` and `helm install` both refuse them.
*/}}
{{- define "sfconn-operator.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail "replicaCount > 1 requires leaderElection.enabled: two replicas without leader election would both log in and could replay a rotated refresh token, which revokes it" }}
{{- end }}
{{- if lt (int .Values.maxConcurrentReconciles) 1 }}
{{- fail "maxConcurrentReconciles must be at least 1" }}
{{- end }}
{{- range concat .Values.allowedLoginHosts .Values.watchNamespaces }}
{{- if or (contains "," .) (eq (trim .) "") }}
{{- fail (printf "allowedLoginHosts and watchNamespaces take one entry per list item, without commas or blanks: %q" .) }}
{{- end }}
{{- end }}
{{- if ne (len .Values.watchNamespaces) (len (uniq .Values.watchNamespaces)) }}
{{- fail "watchNamespaces names a namespace twice" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "serviceMonitor.enabled requires metrics.enabled" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled .Values.metrics.secure (not .Values.serviceMonitor.tlsConfig.insecureSkipVerify) (not .Values.serviceMonitor.tlsConfig.ca) (not .Values.metrics.certSecret) }}
{{- fail "serviceMonitor.tlsConfig.insecureSkipVerify=false needs a certificate scrapers can verify: set metrics.certSecret, and serviceMonitor.tlsConfig.ca unless that Secret holds ca.crt" }}
{{- end }}
{{- with .Values.serviceMonitor.tlsConfig.ca }}
{{- if ne (len .) 1 }}
{{- fail "serviceMonitor.tlsConfig.ca takes one of secret or configMap" }}
{{- end }}
{{- end }}
{{- if and .Values.metrics.certSecret (not .Values.metrics.secure) }}
{{- fail "metrics.certSecret requires metrics.secure: the certificate is for HTTPS" }}
{{- end }}
{{- end }}

{{/*
Grants the manager a set of rules where it works: with watchNamespaces, a Role and a
RoleBinding in each watched namespace; without, a ClusterRole and a ClusterRoleBinding.
They are named <fullname>-<name>-role and <fullname>-<name>-rolebinding. Called with a dict:
root (the chart's context), name, rules, and what (a comment saying what the rules are for).
*/}}
{{- define "sfconn-operator.grant" -}}
{{- $root := .root }}
{{- $fullname := include "sfconn-operator.fullname" $root }}
{{- $comment := printf "# %s" (.what | wrapWith 88 "\n# ") }}
{{- if $root.Values.watchNamespaces }}
{{- range $i, $ns := $root.Values.watchNamespaces }}
{{- if $i }}
---
{{- end }}
{{ $comment }}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ $fullname }}-{{ $.name }}-role
  namespace: {{ $ns }}
  labels:
    {{- include "sfconn-operator.labels" $root | nindent 4 }}
rules:
  {{- toYaml $.rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $fullname }}-{{ $.name }}-rolebinding
  namespace: {{ $ns }}
  labels:
    {{- include "sfconn-operator.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ $fullname }}-{{ $.name }}-role
subjects:
- kind: ServiceAccount
  name: {{ include "sfconn-operator.serviceAccountName" $root }}
  namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- else }}
{{ $comment }}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ $fullname }}-{{ .name }}-role
  labels:
    {{- include "sfconn-operator.labels" $root | nindent 4 }}
rules:
  {{- toYaml .rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ $fullname }}-{{ .name }}-rolebinding
  labels:
    {{- include "sfconn-operator.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ $fullname }}-{{ .name }}-role
subjects:
- kind: ServiceAccount
  name: {{ include "sfconn-operator.serviceAccountName" $root }}
  namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- end }}

{{/*
The manager's GOMEMLIMIT: goMemLimit when it is a value, none when it is empty, and with
"auto" 90% of resources.limits.memory (none without a limit). The runtime then collects
garbage harder before the kernel's limit is reached, even where the manager cannot read
its cgroup. Written in whole MiB, rounded down; K, M, G and T are powers of 1000, Ki, Mi,
Gi and Ti of 1024, as in a Kubernetes quantity.
*/}}
{{- define "sfconn-operator.goMemLimit" -}}
{{- $v := toString .Values.goMemLimit -}}
{{- if ne $v "auto" -}}
{{- $v -}}
{{- else if and .Values.resources .Values.resources.limits (hasKey .Values.resources.limits "memory") -}}
{{- $limit := .Values.resources.limits.memory -}}
{{- if not (kindIs "string" $limit) -}}
{{- $limit = printf "%.0f" (float64 $limit) -}}
{{- end -}}
{{- $m := regexFindAll "^([0-9]+(?:\\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$" $limit 1 -}}
{{- if not $m -}}
{{- fail (printf "resources.limits.memory %q: goMemLimit auto understands a number with an optional suffix Ki, Mi, Gi, Ti, k, M, G or T; set goMemLimit to a GOMEMLIMIT value, or to \"\" for none" $limit) -}}
{{- end -}}
{{- $number := regexReplaceAll "[a-zA-Z]+$" $limit "" -}}
{{- $suffix := trimPrefix $number $limit -}}
{{- $unit := get (dict "" 1.0 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "k" 1000.0 "K" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0) $suffix -}}
{{- $mib := floor (divf (mulf (float64 $number) $unit 0.9) 1048576.0) -}}
{{- if lt $mib 1.0 -}}
{{- fail (printf "resources.limits.memory %q is too small for the manager" $limit) -}}
{{- end -}}
{{- printf "%dMiB" (int64 $mib) -}}
{{- end -}}
{{- end }}
