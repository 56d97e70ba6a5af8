{{/*
Names. Every object is named "<release>-<component>" (just "<component>" prefixed by "floe-"
when the release is called floe), so two releases can share a namespace.
*/}}
{{- define "floe.fullname" -}}
{{- if eq .Release.Name "floe" -}}floe{{- else -}}{{ printf "%s-floe" .Release.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "floe.name" -}}
{{- printf "%s-%s" (include "floe.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "floe.selectorLabels" -}}
app.kubernetes.io/name: floe-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "floe.labels" -}}
{{ include "floe.selectorLabels" . }}
app.kubernetes.io/part-of: floe
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/*
An image: "<registry>/floe/<name>:<tag>", exactly what floeImage() of operator/src/images.ts
gives and `npm run images` tags; a component's own "image" value replaces it whole.
*/}}
{{- define "floe.image" -}}
{{- $v := .root.Values -}}
{{- $own := (index $v .component).image | default "" -}}
{{- if $own -}}
{{ $own }}
{{- else -}}
{{- $registry := trimSuffix "/" $v.images.registry -}}
{{ if $registry }}{{ $registry }}/{{ end }}floe/{{ .name }}:{{ $v.images.tag }}
{{- end -}}
{{- end -}}

{{/* The pod-level settings every Floe workload shares: non-root uid 1000 as the images run. */}}
{{- define "floe.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "floe.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* imagePullSecrets, and Floe's own pods kept off the GPU nodes the sessions need. */}}
{{- define "floe.podCommon" -}}
{{- with .Values.images.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- if .Values.gpu.skus }}
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions:
            - key: floe.dev/gpu-sku
              operator: NotIn
              values: {{ toJson .Values.gpu.skus }}
{{- end }}
{{- end -}}

{{/* The public origin without a trailing slash, and its host. */}}
{{- define "floe.url" -}}{{ trimSuffix "/" .Values.url }}{{- end -}}
{{- define "floe.host" -}}{{ (urlParse .Values.url).host | splitList ":" | first }}{{- end -}}

{{/* Names of the Secrets. */}}
{{- define "floe.generatedSecret" -}}{{ include "floe.name" (dict "root" . "component" "generated") }}{{- end -}}

{{/*
A random value kept across upgrades: read back from the Secret this release made before
(lookup), generated the first time; base64: the value is itself base64 of the random bytes. `helm template` (no cluster) generates each time.
*/}}
{{- define "floe.keptRandom" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret -}}
{{- if and $existing (index ($existing.data | default dict) .key) -}}
{{ index $existing.data .key }}
{{- else if .base64 -}}
{{ randAlphaNum .length | b64enc | b64enc }}
{{- else -}}
{{ randAlphaNum .length | b64enc }}
{{- end -}}
{{- end -}}

{{/* A map as "k=v,k2=v2", sorted by key (the operator's --ingress-pod-labels). */}}
{{- define "floe.keyValues" -}}
{{- $pairs := list -}}
{{- range $k, $v := . }}{{ $pairs = append $pairs (printf "%s=%s" $k $v) }}{{ end -}}
{{ join "," $pairs }}
{{- end -}}

{{/* The TURN URLs the gateway offers browsers: turn.urls, else from host, port and TLS. */}}
{{- define "floe.turnUrls" -}}
{{- $t := .Values.turn -}}
{{- if $t.urls -}}
{{ join "," $t.urls }}
{{- else -}}
{{- $host := $t.host | default (include "floe.host" .) -}}
{{- $urls := list (printf "turn:%s:%d?transport=udp" $host (int $t.port)) (printf "turn:%s:%d?transport=tcp" $host (int $t.port)) -}}
{{- if $t.tlsSecret -}}
{{- $tls := ternary 443 (int $t.tlsPort) (eq $t.mode "statefulSet") -}}
{{- $urls = append $urls (printf "turns:%s:%d?transport=tcp" $host $tls) -}}
{{- end -}}
{{ join "," $urls }}
{{- end -}}
{{- end -}}
