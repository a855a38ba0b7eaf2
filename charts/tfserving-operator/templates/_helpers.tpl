{{- define "tfso.name" -}}tfserving-operator{{- end -}}
{{- define "tfso.labels" -}}
app.kubernetes.io/name: tfserving-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
