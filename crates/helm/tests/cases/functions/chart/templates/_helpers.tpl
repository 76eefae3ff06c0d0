{{- define "functions.unused" -}}never rendered{{- end -}}
