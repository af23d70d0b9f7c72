package e2e

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/harness"
)

// alert is the record functions/anomaly writes.
type alert struct {
	Page        string  `json:"page"`
	Count       int     `json:"count"`
	Median      float64 `json:"median"`
	WindowStart string  `json:"window_start"`
	WindowEnd   string  `json:"window_end"`
}

// TestAnomalyAlertsOnASpike injects a traffic spike on one page with the
// generator and expects Anomaly to write an alert for that page, for a
// window that overlaps the spike, to clickstream-alerts.
func TestAnomalyAlertsOnASpike(t *testing.T) {
	const page = "/products/42"
	state := t.TempDir()
	s := startSluice(t, state, "127.0.0.1:0")
	started := time.Now()
	acked := filepath.Join(t.TempDir(), "acked")
	gen := generate(t, s.Endpoints.Kinesis, 9000, acked, "-rate", "1500",
		"-spike-page", page, "-spike-at", "2s", "-spike-duration", "2s", "-spike-factor", "40")
	if err := gen.Wait(); err != nil {
		t.Fatalf("generator: %v\n%s", err, gen.Stderr)
	}
	drain(t, s, state)

	objs, err := harness.ReadBucket(filepath.Join(state, "buckets", "clickstream-alerts"))
	if err != nil {
		t.Fatal(err)
	}
	var alerts []alert
	for _, o := range objs {
		for _, rec := range o.Records {
			var a alert
			if err := json.Unmarshal(rec, &a); err != nil {
				t.Fatalf("alert %q is not JSON: %v", rec, err)
			}
			alerts = append(alerts, a)
		}
	}
	found := false
	for _, a := range alerts {
		if a.Page != page {
			continue
		}
		end, err := time.Parse(time.RFC3339, a.WindowEnd)
		if err != nil {
			t.Fatalf("alert window_end %q: %v", a.WindowEnd, err)
		}
		if end.After(started) && float64(a.Count) > 3*a.Median {
			found = true
			t.Logf("alert: page %s count %d median %.1f window %s–%s", a.Page, a.Count, a.Median, a.WindowStart, a.WindowEnd)
		}
	}
	if !found {
		t.Fatalf("no alert for the spiked page %s among %d alerts: %+v", page, len(alerts), alerts)
	}
}
