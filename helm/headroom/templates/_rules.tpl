{{/*
Headroom's rule files, carried in files/rules/ by helm/sync.sh from the generator's output
(alerts/gen) with every threshold replaced by a placeholder:

  @@path@@          the value at path in prometheusRule.thresholds (numbers as PromQL reads
                    them back, strings as written)
  @@path|seconds@@  a duration in seconds
  @@path|pct@@      a ratio as a percentage ("80%")
  @@path|factor@@   "<ratio> * ", or nothing when the ratio is 1
  @@path|note@@     " (alerting below <pct> of it)", or nothing when the ratio is 1

path is dotted; list items by index (exhaustion.0.lookback).
*/}}

{{/* The value at a dotted path of a map ({"root": map, "path": "a.0.b"}) as JSON. */}}
{{- define "headroom.rules.lookup" -}}
{{- $v := .root }}
{{- range $p := splitList "." .path }}
{{- if kindIs "slice" $v }}
{{- if ge (atoi $p) (len $v) }}{{ fail (printf "prometheusRule.thresholds: %s: no such list item" $.path) }}{{ end }}
{{- $v = index $v (atoi $p) }}
{{- else if and (kindIs "map" $v) (hasKey $v $p) }}
{{- $v = index $v $p }}
{{- else }}
{{- fail (printf "prometheusRule.thresholds: %s is missing" $.path) }}
{{- end }}
{{- end }}
{{- toJson $v }}
{{- end }}

{{/* A Prometheus duration ("1h30m", "500ms") in seconds, printed the way the generator prints numbers. */}}
{{- define "headroom.rules.seconds" -}}
{{- if not (regexMatch "^([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$" .) }}
{{- fail (printf "prometheusRule.thresholds: %q is not a Prometheus duration" .) }}
{{- end }}
{{- $units := dict "y" 31536000.0 "w" 604800.0 "d" 86400.0 "h" 3600.0 "m" 60.0 "s" 1.0 "ms" 0.001 }}
{{- $total := 0.0 }}
{{- range $part := regexFindAll "[0-9]+(ms|[ywdhms])" . -1 }}
{{- $n := float64 (regexFind "^[0-9]+" $part) }}
{{- $total = addf $total (mulf $n (get $units (regexReplaceAll "^[0-9]+" $part ""))) }}
{{- end }}
{{- $total }}
{{- end }}

{{/* One placeholder's replacement ({"root": thresholds, "ph": "@@path|fn@@"}). */}}
{{- define "headroom.rules.value" -}}
{{- $spec := .ph | trimPrefix "@@" | trimSuffix "@@" }}
{{- $path := regexReplaceAll "\\|.*$" $spec "" }}
{{- $fn := "" }}
{{- if contains "|" $spec }}{{ $fn = regexReplaceAll "^[^|]*\\|" $spec "" }}{{ end }}
{{- $v := (printf "{\"v\": %s}" (include "headroom.rules.lookup" (dict "root" .root "path" $path)) | fromJson).v }}
{{- if eq $fn "" }}
{{- if kindIs "string" $v }}{{ $v }}{{ else }}{{ float64 $v }}{{ end }}
{{- else if eq $fn "seconds" }}
{{- include "headroom.rules.seconds" (toString $v) }}
{{- else if eq $fn "pct" }}
{{- printf "%v%%" (mulf (float64 $v) 100) }}
{{- else if eq $fn "factor" }}
{{- if ne (float64 $v) 1.0 }}{{ printf "%v * " (float64 $v) }}{{ end }}
{{- else if eq $fn "note" }}
{{- if ne (float64 $v) 1.0 }}{{ printf " (alerting below %v%% of it)" (mulf (float64 $v) 100) }}{{ end }}
{{- else }}
{{- fail (printf "chart bug: unknown placeholder function in %s" .ph) }}
{{- end }}
{{- end }}

{{/*
The shape of the thresholds: maps with their keys, lists of scalars as they are, every other
scalar null. The generated rules depend on it (one rule per window, ...), so it must match
the shape the chart's rule files were generated from.
*/}}
{{- define "headroom.rules.shape" -}}
{{- if kindIs "map" . -}}
{ {{- range $i, $k := keys . | sortAlpha }}{{ if $i }},{{ end }}{{ toJson $k }}:{{ include "headroom.rules.shape" (get $ $k) }}{{ end -}} }
{{- else if kindIs "slice" . -}}
{{- $scalars := true }}
{{- range . }}{{ if or (kindIs "map" .) (kindIs "slice" .) }}{{ $scalars = false }}{{ end }}{{ end }}
{{- if $scalars -}}
{{ toJson . }}
{{- else -}}
[ {{- range $i, $e := . }}{{ if $i }},{{ end }}{{ include "headroom.rules.shape" $e }}{{ end -}} ]
{{- end }}
{{- else -}}
null
{{- end }}
{{- end }}

{{/* A rule file with the thresholds substituted: a YAML list of rule groups. */}}
{{- define "headroom.rules.file" -}}
{{- $t := .root.Values.prometheusRule.thresholds }}
{{- $text := .root.Files.Get (printf "files/rules/%s" .file) }}
{{- if not $text }}
{{- fail (printf "chart bug: files/rules/%s is missing; run helm/sync.sh" .file) }}
{{- end }}
{{- range $ph := regexFindAll "@@[A-Za-z0-9_.|-]+@@" $text -1 | uniq }}
{{- $text = replace $ph (include "headroom.rules.value" (dict "root" $t "ph" $ph)) $text }}
{{- end }}
{{- $text }}
{{- end }}
