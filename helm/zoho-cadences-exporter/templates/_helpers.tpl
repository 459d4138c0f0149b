{{/* Named templates shared by the chart's manifests: names, labels, credential sources, config.yaml. */}}

{{- define "zce.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "zce.fullname" -}}
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

{{- define "zce.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "zce.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zce.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "zce.labels" -}}
helm.sh/chart: {{ include "zce.chart" . }}
{{ include "zce.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: zoho-cadences-exporter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "zce.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "zce.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "zce.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Where everything the exporter reads is mounted: one projected volume. */}}
{{- define "zce.configDir" -}}/etc/zoho-cadences-exporter{{- end }}

{{/* "<fullname>-<suffix>", shortening the full name (never the suffix) to stay within 63 characters,
     so names stay distinct for the longest release names. Call with (list $ "suffix"). */}}
{{- define "zce.suffixedName" -}}
{{- $suffix := index . 1 }}
{{- printf "%s-%s" (include "zce.fullname" (index . 0) | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix }}
{{- end }}

{{/* Name of the Secret the chart renders for inline org credentials. */}}
{{- define "zce.credentialsSecretName" -}}
{{- include "zce.suffixedName" (list . "credentials") }}
{{- end }}

{{- define "zce.webConfigSecretName" -}}
{{- include "zce.suffixedName" (list . "web-config") }}
{{- end }}

{{/*
The credential source of every org, as YAML: a list of {org, secret, keys: {client_id: <key>, ...}, inline}.
Order of precedence: the org's existingSecret, the org's inline values, the global existingSecret.
Fails the render with a message naming the org when an org has no complete source.
*/}}
{{- define "zce.credentialSources" -}}
{{- $sources := list }}
{{- range $i, $org := .Values.orgs }}
{{- $inline := list $org.clientId $org.clientSecret $org.refreshToken | compact }}
{{- if $org.existingSecret }}
{{- if $inline }}
{{- fail (printf "orgs[%d] (%s): give either existingSecret or clientId/clientSecret/refreshToken, not both" $i $org.name) }}
{{- end }}
{{- $sources = append $sources (dict "org" $org.name "secret" $org.existingSecret "inline" false "keys" (dict "client_id" "client_id" "client_secret" "client_secret" "refresh_token" "refresh_token")) }}
{{- else if $inline }}
{{- if ne (len $inline) 3 }}
{{- fail (printf "orgs[%d] (%s): clientId, clientSecret and refreshToken must all be set (or use existingSecret)" $i $org.name) }}
{{- end }}
{{- $sources = append $sources (dict "org" $org.name "secret" (include "zce.credentialsSecretName" $) "inline" true "keys" (dict "client_id" (printf "%s.client_id" $org.name) "client_secret" (printf "%s.client_secret" $org.name) "refresh_token" (printf "%s.refresh_token" $org.name))) }}
{{- else if $.Values.existingSecret }}
{{- $sources = append $sources (dict "org" $org.name "secret" $.Values.existingSecret "inline" false "keys" (dict "client_id" (printf "%s.client_id" $org.name) "client_secret" (printf "%s.client_secret" $org.name) "refresh_token" (printf "%s.refresh_token" $org.name))) }}
{{- else }}
{{- fail (printf "orgs[%d] (%s) has no credentials: set its existingSecret, its clientId/clientSecret/refreshToken, or the top-level existingSecret" $i $org.name) }}
{{- end }}
{{- end }}
{{- toYaml (dict "sources" $sources) }}
{{- end }}

{{/* True when some org's credentials are rendered by the chart into its own Secret. */}}
{{- define "zce.hasInlineCredentials" -}}
{{- range (include "zce.credentialSources" . | fromYaml).sources }}{{ if .inline }}true{{ end }}{{ end }}
{{- end }}

{{/* Checks that hold across values and that a JSON schema cannot express. */}}
{{- define "zce.validate" -}}
{{- if and .Values.demo .Values.orgs }}
{{- fail "demo runs the exporter's embedded demo org: leave orgs empty, or set demo=false" }}
{{- end }}
{{- if and (not .Values.demo) (not .Values.orgs) }}
{{- fail "orgs is empty: list the Zoho orgs to watch (see values.yaml), or set demo=true to try the chart with the exporter's embedded demo org" }}
{{- end }}
{{- $names := list }}
{{- range .Values.orgs }}
{{- if has .name $names }}
{{- fail (printf "orgs: the name %q is used twice; org names must be unique" .name) }}
{{- end }}
{{- $names = append $names .name }}
{{- end }}
{{- $expectationNames := list }}
{{- range $i, $e := .Values.expectations }}
{{- if and $e.org (not (has $e.org $names)) }}
{{- fail (printf "expectations[%d] (%s): org %q is not the name of any org in orgs" $i $e.name $e.org) }}
{{- end }}
{{- if has $e.name $expectationNames }}
{{- fail (printf "expectations: the name %q is used twice; expectation names must be unique" $e.name) }}
{{- end }}
{{- $expectationNames = append $expectationNames $e.name }}
{{- end }}
{{- if and .Values.webTls.secretName (not .Values.webConfig) }}
{{- fail "webTls.secretName is set but webConfig is empty: the certificate would be mounted and never used" }}
{{- end }}
{{- end }}

{{/* The exporter's config.yaml: settings from .Values.config, orgs with *_file credentials. */}}
{{- define "zce.configYaml" -}}
{{- $dir := include "zce.configDir" . }}
{{- $orgs := list }}
{{- range .Values.orgs }}
{{- $org := dict "name" .name "client_id_file" (printf "%s/secrets/%s/client_id" $dir .name) "client_secret_file" (printf "%s/secrets/%s/client_secret" $dir .name) "refresh_token_file" (printf "%s/secrets/%s/refresh_token" $dir .name) }}
{{- with .dataCenter }}{{ $_ := set $org "data_center" . }}{{ end }}
{{- with .apiVersion }}{{ $_ := set $org "api_version" . }}{{ end }}
{{- with .accountsUrl }}{{ $_ := set $org "accounts_url" . }}{{ end }}
{{- with .apiDomain }}{{ $_ := set $org "api_domain" . }}{{ end }}
{{- $orgs = append $orgs $org }}
{{- end }}
{{- $c := .Values.config }}
{{- $config := dict "interval" $c.interval "timeout" $c.timeout "per_cadence_metrics" $c.perCadenceMetrics "orgs" $orgs "expectations" .Values.expectations }}
{{- with $c.maxResponseBytes }}{{ $_ := set $config "max_response_bytes" . }}{{ end }}
{{- with $c.enrollment }}{{ $_ := set $config "enrollment" . }}{{ end }}
{{- with $c.analytics }}{{ $_ := set $config "analytics" . }}{{ end }}
{{- toYaml $config }}
{{- end }}

{{/* webConfig asks the client for credentials the kubelet's HTTP probes cannot present. */}}
{{- define "zce.probesNeedTcp" -}}
{{- $tls := .Values.webConfig.tls_server_config | default dict }}
{{- if or .Values.webConfig.basic_auth_users (has ($tls.client_auth_type | default "") (list "RequireAnyClientCert" "RequireAndVerifyClientCert")) }}true{{ end }}
{{- end }}

{{- define "zce.scheme" -}}
{{- if .Values.webConfig.tls_server_config }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}
