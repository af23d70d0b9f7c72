// Package benthos generates the Benthos v4 configuration that does the same
// work as Sluice's sample pipeline, so the two can be timed side by side:
// read click events as NDJSON, add device_class / event_hour / event_date
// with the rules of functions/enrich, and write gzip'd JSON-lines files
// partitioned by event_type and arrival hour.
//
// The output uses Benthos's fastest configuration for this job as measured
// in shared/tooling.md: output batching, group_by_value on the partition,
// archive: lines, then compress: gzip, one file per group.
package benthos

import (
	"fmt"
	"strconv"
	"strings"
)

// The User-Agent substrings of functions/enrich's deviceClass, checked in
// the same order (bots, then tablets, then phones). Keep them in step with
// functions/enrich/enrich.go: config_test.go checks that they are.
var (
	BotMarkers    = []string{"bot", "crawler", "spider", "slurp", "facebookexternalhit", "headlesschrome", "curl/", "wget/", "python-requests", "go-http-client"}
	TabletMarkers = []string{"ipad", "tablet", "kindle", "silk/", "playbook"}
	MobileMarkers = []string{"mobile", "iphone", "ipod", "android", "windows phone", "blackberry", "opera mini"}
)

// Options say what to read, where to write and how many threads to use.
type Options struct {
	Input     string // NDJSON file, one click event a line
	OutputDir string // the "bucket": files land under <OutputDir>/events/...
	Threads   int    // pipeline threads; 0 = one per CPU (Benthos's -1)
	BatchSize int    // output batch size before grouping; 0 = 20000
}

// Config returns the YAML configuration.
func Config(o Options) string {
	threads := o.Threads
	if threads <= 0 {
		threads = -1
	}
	batch := o.BatchSize
	if batch <= 0 {
		batch = 20000
	}
	var b strings.Builder
	fmt.Fprintf(&b, `http:
  enabled: false
logger:
  level: WARN
metrics:
  none: {}
input:
  file:
    paths: [ %s ]
    scanner:
      lines:
        max_buffer_size: 1048576
pipeline:
  threads: %d
  processors:
    - mapping: |
%s
output:
  # file has no batching of its own: a one-output broker batches for it.
  broker:
    pattern: fan_out
    outputs:
      - file:
          path: '%s/events/event_type=${! @event_type }/${! @hour }/benthos-${! uuid_v4() }.gz'
          codec: all-bytes
    batching:
      count: %d
      period: 1s
      processors:
        - group_by_value:
            value: '${! @event_type }/${! @hour }'
        - archive:
            format: lines
        - compress:
            algorithm: gzip
`, strconv.Quote(o.Input), threads, indent(Mapping(), "        "), strings.TrimRight(o.OutputDir, "/"), batch)
	return b.String()
}

// Mapping is the Bloblang equivalent of functions/enrich's enrich: the
// event with device_class, event_hour and event_date added (UTC), plus the
// partition keys as metadata: event_type, and the arrival hour as
// yyyy/MM/dd/HH — what the sample template's Firehose prefix renders with
// !{timestamp:yyyy/MM/dd/HH}.
func Mapping() string {
	return `root = this
let ua = this.user_agent.or("").string().lowercase()
root.device_class = if $ua == "" {
  "desktop"
} else if ` + anyOf("$ua", BotMarkers) + ` {
  "bot"
} else if ` + anyOf("$ua", TabletMarkers) + ` || ($ua.contains("android") && !$ua.contains("mobile")) {
  "tablet"
} else if ` + anyOf("$ua", MobileMarkers) + ` {
  "mobile"
} else {
  "desktop"
}
let t = this.timestamp.ts_parse("2006-01-02T15:04:05Z07:00")
root.event_hour = $t.ts_format("2006-01-02T15", "UTC")
root.event_date = $t.ts_format("2006-01-02", "UTC")
meta event_type = this.event_type
meta hour = now().ts_format("2006/01/02/15", "UTC")`
}

func anyOf(v string, subs []string) string {
	parts := make([]string, len(subs))
	for i, s := range subs {
		parts[i] = v + ".contains(" + strconv.Quote(s) + ")"
	}
	return "(" + strings.Join(parts, " || ") + ")"
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
