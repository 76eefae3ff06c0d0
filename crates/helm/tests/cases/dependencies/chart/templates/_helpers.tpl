{{- define "sub.name" -}}parent-wins{{- end -}}
