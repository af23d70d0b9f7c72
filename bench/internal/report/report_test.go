package report

import (
	"bytes"
	"encoding/xml"
	"math"
	"strings"
	"testing"
)

func sample() *Report {
	r := &Report{Records: 1000, Machine: Machine{CPUs: 2, CPUModel: "Test CPU", MemTotal: "24Gi", Go: "go1.26"}}
	r.Runs = []Run{
		{Name: "sluice", System: "sluice", Format: "json+gzip", OK: true, Delivered: 1000, Seconds: 0.5, RecordsPerSec: 2000,
			Process: Usage{CPUSeconds: 0.4, MaxRSSMiB: 100}, Feeder: &Usage{CPUSeconds: 0.1, MaxRSSMiB: 30},
			Phases: []Phase{{"feed", 0.3}, {"drain", 0.1}, {"stop", 0.1}}},
		{Name: "benthos v4.60.0", System: "benthos", Format: "json+gzip", OK: true, Delivered: 1000, Seconds: 1, RecordsPerSec: 1000,
			Process: Usage{CPUSeconds: 1.0, MaxRSSMiB: 50}},
		{Name: "sluice", System: "sluice", Format: "parquet", OK: false, Error: "lost 3 records\nmore"},
	}
	r.ComputeRatios()
	r.Latency = NewLatency(5000, 20, 4, []float64{4, 1, 3, 2})
	r.Invoke = NewTiming("sluice local invoke Enrich", []float64{30, 10, 20})
	r.Gaps = []string{"WASM: not landed"}
	return r
}

func TestRatios(t *testing.T) {
	r := sample()
	if len(r.Ratios) != 1 {
		t.Fatalf("ratios %+v", r.Ratios)
	}
	q := r.Ratios[0]
	for name, c := range map[string][2]float64{"throughput": {q.Throughput, 2}, "cpu": {q.CPU, 0.4}, "cpu+feeder": {q.CPUFeeder, 0.5}, "rss": {q.RSS, 2}} {
		if math.Abs(c[0]-c[1]) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	sample().WriteTable(&b)
	out := b.String()
	for _, want := range []string{
		"run             | format    | ok   | records out | wall s | records/s | CPU s/M (proc) | CPU s/M (+feeder) | peak RSS MiB | feeder RSS MiB | objects",
		"sluice          | json+gzip | yes  |        1000 |    0.5 |      2000 |          400.0 |             500.0 |          100 |             30 |       0",
		"benthos v4.60.0 | json+gzip | yes  |        1000 |    1.0 |      1000 |         1000.0 |                 - |           50 |              - |       0",
		"sluice          | parquet   | FAIL |",
		"  sluice (json+gzip) phases: feed 0.3s, drain 0.1s, stop 0.1s",
		"  sluice FAILED: lost 3 records",
		"sluice (json+gzip) |         2.00 |                    0.40 |                       0.50 |       2.00",
		"put→invoke latency at 5000 records/s for 20 s (4 sent, 4 received; duplicates: 0 out of the function, 0 already in the stream as the producer put them): p50 2.0 ms, p90 4.0 ms, p99 4.0 ms",
		"sluice local invoke Enrich: 3 runs, min 10 ms, p50 20 ms, mean 20 ms, max 30 ms",
		"  - WASM: not landed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestSVGIsWellFormed(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	rects := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatal(err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects != 1+3*2 { // background + 3 panels × 2 successful runs
		t.Errorf("%d rects", rects)
	}
}

func TestMedian(t *testing.T) {
	runs := []Run{{OK: true, RecordsPerSec: 3}, {OK: true, RecordsPerSec: 1}, {OK: true, RecordsPerSec: 2}}
	m := Median(runs)
	if m.RecordsPerSec != 2 || m.Rounds != 3 || m.RateRange != [2]float64{1, 3} {
		t.Errorf("median %+v", m)
	}
	runs[1].OK = false
	if m := Median(runs); m.OK || m.Rounds != 3 {
		t.Errorf("a failed round must win: %+v", m)
	}
	if m := Median(runs[:1]); m.Rounds != 0 {
		t.Errorf("one round: %+v", m)
	}
	var b bytes.Buffer
	r := sample()
	r.Runs[0].Rounds, r.Runs[0].RateRange = 3, [2]float64{1500, 2100}
	r.WriteTable(&b)
	if want := "  sluice (json+gzip): median of 3 rounds by records/s (range 1500–2100)"; !strings.Contains(b.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, b.String())
	}
}

func TestPercentile(t *testing.T) {
	s := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for p, want := range map[float64]float64{50: 5, 90: 9, 99: 10, 100: 10, 0: 1} {
		if got := Percentile(s, p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
}
