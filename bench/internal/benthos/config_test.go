package benthos

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The markers must be the ones functions/enrich classifies with, in order.
func TestMarkersMatchEnrich(t *testing.T) {
	src, err := os.ReadFile("../../../functions/enrich/enrich.go")
	if err != nil {
		t.Fatal(err)
	}
	calls := regexp.MustCompile(`(?s)markers\(("[^)]*)\)`).FindAllStringSubmatch(string(src), -1)
	if len(calls) != 3 {
		t.Fatalf("found %d marker lists in enrich.go, want 3 (bot, tablet, mobile): update this package", len(calls))
	}
	for i, want := range [][]string{BotMarkers, TabletMarkers, MobileMarkers} {
		var got []string
		for _, q := range strings.Split(calls[i][1], ",") {
			s, err := strconv.Unquote(strings.TrimSpace(q))
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			got = append(got, s)
		}
		if !slices.Equal(got, want) {
			t.Errorf("markers %d: enrich.go has %q, config has %q", i, got, want)
		}
	}
}

func TestConfig(t *testing.T) {
	c := Config(Options{Input: "/tmp/in.ndjson", OutputDir: "/tmp/out/", Threads: 2})
	for _, want := range []string{
		`paths: [ "/tmp/in.ndjson" ]`,
		`threads: 2`,
		`          path: '/tmp/out/events/event_type=${! @event_type }/${! @hour }/benthos-${! uuid_v4() }.gz'`,
		`count: 20000`,
		"        - group_by_value:",
		"            format: lines",
		"            algorithm: gzip",
		`        } else if ($ua.contains("bot") || $ua.contains("crawler")`,
		`        meta hour = now().ts_format("2006/01/02/15", "UTC")`,
	} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
	if strings.Contains(c, "\t") {
		t.Error("config contains a tab (YAML forbids tabs for indentation)")
	}
	if d := Config(Options{Input: "x", OutputDir: "y"}); !strings.Contains(d, "threads: -1") {
		t.Errorf("default threads: want -1 (one per CPU):\n%s", d)
	}
}
