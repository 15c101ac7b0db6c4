{{/* Labels every object carries: NAME is its app.kubernetes.io/name. */}}
{{- define "snoop.labels" -}}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/part-of: snoop
{{- end }}

{{/* registry/NAME:tag for one of snoop's images. */}}
{{- define "snoop.image" -}}
{{ .root.Values.image.registry }}/{{ .name }}:{{ .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- end }}

{{/* The Secret holding the token, if any. */}}
{{- define "snoop.tokenSecret" -}}
{{ .Values.auth.existingSecret | default "snoop-token" }}
{{- end }}
