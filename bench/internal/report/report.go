// Package report holds one pipelinebench run's results and renders them:
// a plain-text table for the terminal and the README, JSON for
// bench/results/latest.json and an SVG bar chart for
// bench/results/latest.svg.
package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// Report is one whole run.
type Report struct {
	Time    time.Time `json:"time"`
	Machine Machine   `json:"machine"`
	Records int       `json:"records"` // N: click events per pipeline run
	Seed    int64     `json:"seed"`
	Runs    []Run     `json:"runs"` // one per system and format: the median round
	// AllRuns are every round's runs when there was more than one.
	AllRuns []Run `json:"all_runs,omitempty"`
	// Ratios are Sluice / Benthos for each Sluice run that has a Benthos
	// run with the same Format.
	Ratios  []Ratio     `json:"ratios"`
	Invoke  *Timing     `json:"local_invoke,omitempty"`
	Latency *Latency    `json:"latency,omitempty"`
	Gaps    []string    `json:"gaps,omitempty"`
	Extra   [][2]string `json:"notes,omitempty"`
}

// Machine is where it ran.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemTotal string `json:"mem_total"`
	Go       string `json:"go"`
	Kernel   string `json:"kernel,omitempty"`
}

// Run is one system doing the pipeline once.
type Run struct {
	Name   string `json:"name"`   // "sluice", "benthos v4.60.0"
	System string `json:"system"` // "sluice" or "benthos"
	Format string `json:"format"` // "json+gzip", "parquet"
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`

	Delivered  int     `json:"delivered"` // records in the output
	Duplicates int     `json:"duplicates"`
	Objects    int     `json:"objects"`
	Partitions int     `json:"partitions"`
	OutputMiB  float64 `json:"output_mib"`
	// Devices is the device_class histogram, to check the two systems
	// classified alike.
	Devices map[string]int `json:"device_classes,omitempty"`

	// Seconds is the end-to-end wall time the rate is computed from.
	Seconds       float64 `json:"seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	// Process is the system's own process (sluice up / benthos), from start to exit.
	Process Usage `json:"process"`
	// Feeder is the producer process (Sluice only): Benthos reads the file itself.
	Feeder *Usage `json:"feeder,omitempty"`
	// Phases break Seconds down (Sluice: feed, drain, stop).
	Phases []Phase `json:"phases,omitempty"`
	// LoadAvg is /proc/loadavg's 1-minute figure when the run started: the
	// machine may be shared, and wall-clock rates suffer first.
	LoadAvg float64 `json:"loadavg_at_start"`
	// Rounds is how many rounds this run is the median of (0 or 1: one),
	// and RateRange their lowest and highest records/s.
	Rounds    int        `json:"rounds,omitempty"`
	RateRange [2]float64 `json:"records_per_sec_range,omitzero"`
}

// Median returns the run with the median records/s among runs of one
// system and format, carrying the number of rounds and their range. A
// failed round wins, so that a failure is never hidden behind a median.
func Median(runs []Run) Run {
	if len(runs) == 0 {
		return Run{}
	}
	for _, r := range runs {
		if !r.OK {
			r.Rounds = len(runs)
			return r
		}
	}
	s := append([]Run(nil), runs...)
	sort.Slice(s, func(i, j int) bool { return s[i].RecordsPerSec < s[j].RecordsPerSec })
	m := s[(len(s)-1)/2]
	if len(s) > 1 {
		m.Rounds = len(s)
		m.RateRange = [2]float64{s[0].RecordsPerSec, s[len(s)-1].RecordsPerSec}
	}
	return m
}

// Phase is a named part of a run.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Usage is a process's cost.
type Usage struct {
	WallSeconds float64 `json:"wall_seconds"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	MaxRSSMiB   float64 `json:"max_rss_mib"`
}

// CPUPerMillion is CPU-seconds per million records.
func (r Run) CPUPerMillion(u Usage) float64 {
	if r.Delivered == 0 {
		return 0
	}
	return u.CPUSeconds / float64(r.Delivered) * 1e6
}

// Ratio compares a Sluice run with Benthos on the same format.
type Ratio struct {
	Format     string  `json:"run"`             // the Sluice run and its format
	Throughput float64 `json:"throughput"`      // Sluice records/s ÷ Benthos records/s: > 1 is Sluice faster
	CPU        float64 `json:"cpu_per_record"`  // Sluice CPU (process only) ÷ Benthos CPU: < 1 is Sluice cheaper
	CPUFeeder  float64 `json:"cpu_with_feeder"` // the same with Sluice's feeder included
	RSS        float64 `json:"peak_rss"`        // Sluice ÷ Benthos peak RSS
}

// Timing summarises repeated wall-time measurements.
type Timing struct {
	What string    `json:"what"`
	Runs int       `json:"runs"`
	Min  float64   `json:"min_ms"`
	P50  float64   `json:"p50_ms"`
	Mean float64   `json:"mean_ms"`
	Max  float64   `json:"max_ms"`
	All  []float64 `json:"all_ms,omitempty"`
}

// NewTiming summarises samples (milliseconds).
func NewTiming(what string, ms []float64) *Timing {
	t := &Timing{What: what, Runs: len(ms), All: ms}
	if len(ms) == 0 {
		return t
	}
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	t.Min, t.Max, t.Mean, t.P50 = s[0], s[len(s)-1], sum/float64(len(s)), Percentile(s, 50)
	return t
}

// Latency is put→invoke latency at a steady rate.
type Latency struct {
	Rate       int     `json:"rate"` // records/s offered
	Seconds    float64 `json:"seconds"`
	Sent       int     `json:"sent"`
	Received   int     `json:"received"`   // distinct probes out of the function
	Duplicates int     `json:"duplicates"` // further copies out of the function
	// StreamDuplicates are further copies already in the stream: the
	// producer's (an SDK retry of a stored PutRecords); the run fails if
	// Duplicates exceeds them.
	StreamDuplicates int     `json:"stream_duplicates"`
	P50              float64 `json:"p50_ms"`
	P90              float64 `json:"p90_ms"`
	P99              float64 `json:"p99_ms"`
	P999             float64 `json:"p999_ms"`
	Max              float64 `json:"max_ms"`
	ObjectP50        float64 `json:"put_to_object_p50_ms,omitempty"` // put → object file mtime (bounded by buffering)
	ObjectP99        float64 `json:"put_to_object_p99_ms,omitempty"`
}

// NewLatency computes percentiles from samples (milliseconds, any order).
func NewLatency(rate int, seconds float64, sent int, ms []float64) *Latency {
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	l := &Latency{Rate: rate, Seconds: seconds, Sent: sent, Received: len(s)}
	if len(s) > 0 {
		l.P50, l.P90, l.P99, l.P999, l.Max = Percentile(s, 50), Percentile(s, 90), Percentile(s, 99), Percentile(s, 99.9), s[len(s)-1]
	}
	return l
}

// Percentile is the nearest-rank percentile of sorted samples.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// ComputeRatios fills r.Ratios from r.Runs.
func (r *Report) ComputeRatios() {
	r.Ratios = nil
	for _, s := range r.Runs {
		if s.System != "sluice" || !s.OK {
			continue
		}
		for _, b := range r.Runs {
			if b.System != "benthos" || !b.OK || b.Format != s.Format {
				continue
			}
			ratio := Ratio{Format: s.Name + " (" + s.Format + ")", Throughput: s.RecordsPerSec / b.RecordsPerSec}
			bc := b.CPUPerMillion(b.Process)
			ratio.CPU = s.CPUPerMillion(s.Process) / bc
			withFeeder := s.Process
			if s.Feeder != nil {
				withFeeder.CPUSeconds += s.Feeder.CPUSeconds
			}
			ratio.CPUFeeder = s.CPUPerMillion(withFeeder) / bc
			ratio.RSS = s.Process.MaxRSSMiB / b.Process.MaxRSSMiB
			r.Ratios = append(r.Ratios, ratio)
		}
	}
}

// WriteTable writes the human-readable table.
func (r *Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "Pipeline: %d click events → enrich (device_class, event_hour, event_date) → files partitioned by event_type and hour\n", r.Records)
	fmt.Fprintf(w, "Machine: %d CPUs, %s, %s RAM, %s\n\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemTotal, r.Machine.Go)
	rows := [][]string{{"run", "format", "ok", "records out", "wall s", "records/s", "CPU s/M (proc)", "CPU s/M (+feeder)", "peak RSS MiB", "feeder RSS MiB", "objects"}}
	for _, run := range r.Runs {
		ok := "yes"
		if !run.OK {
			ok = "FAIL"
		}
		cpuFeeder, feederRSS := "-", "-"
		if run.Feeder != nil {
			u := run.Process
			u.CPUSeconds += run.Feeder.CPUSeconds
			cpuFeeder = f1(run.CPUPerMillion(u))
			feederRSS = f0(run.Feeder.MaxRSSMiB)
		}
		rows = append(rows, []string{run.Name, run.Format, ok, fmt.Sprint(run.Delivered), f1(run.Seconds), f0(run.RecordsPerSec),
			f1(run.CPUPerMillion(run.Process)), cpuFeeder, f0(run.Process.MaxRSSMiB), feederRSS, fmt.Sprint(run.Objects)})
	}
	writeRows(w, rows, 3)
	for _, run := range r.Runs {
		if run.Rounds > 1 {
			fmt.Fprintf(w, "  %s (%s): median of %d rounds by records/s (range %.0f–%.0f)\n", run.Name, run.Format, run.Rounds, run.RateRange[0], run.RateRange[1])
		}
		if run.LoadAvg > 0 {
			fmt.Fprintf(w, "  %s (%s): load average %.2f at start\n", run.Name, run.Format, run.LoadAvg)
		}
		if len(run.Phases) > 0 {
			var ps []string
			for _, p := range run.Phases {
				ps = append(ps, fmt.Sprintf("%s %.1fs", p.Name, p.Seconds))
			}
			fmt.Fprintf(w, "  %s (%s) phases: %s\n", run.Name, run.Format, strings.Join(ps, ", "))
		}
		if run.Error != "" {
			fmt.Fprintf(w, "  %s FAILED: %s\n", run.Name, firstLine(run.Error))
		}
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintln(w)
		rows = [][]string{{"Sluice / Benthos", "throughput ×", "CPU per record (proc) ×", "CPU per record (+feeder) ×", "peak RSS ×"}}
		for _, q := range r.Ratios {
			rows = append(rows, []string{q.Format, f2(q.Throughput), f2(q.CPU), f2(q.CPUFeeder), f2(q.RSS)})
		}
		writeRows(w, rows, 1)
	}
	if r.Invoke != nil || r.Latency != nil {
		fmt.Fprintln(w)
	}
	if t := r.Invoke; t != nil {
		fmt.Fprintf(w, "%s: %d runs, min %.0f ms, p50 %.0f ms, mean %.0f ms, max %.0f ms\n", t.What, t.Runs, t.Min, t.P50, t.Mean, t.Max)
	}
	if l := r.Latency; l != nil {
		fmt.Fprintf(w, "put→invoke latency at %d records/s for %.0f s (%d sent, %d received; duplicates: %d out of the function, %d already in the stream as the producer put them): p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms\n",
			l.Rate, l.Seconds, l.Sent, l.Received, l.Duplicates, l.StreamDuplicates, l.P50, l.P90, l.P99, l.P999, l.Max)
		if l.ObjectP50 > 0 {
			fmt.Fprintf(w, "put→object written (file mtime; bounded by the sink's buffer interval): p50 %.0f ms, p99 %.0f ms\n", l.ObjectP50, l.ObjectP99)
		}
	}
	for _, kv := range r.Extra {
		fmt.Fprintf(w, "%s: %s\n", kv[0], kv[1])
	}
	if len(r.Gaps) > 0 {
		fmt.Fprintln(w, "\nNot measured in this run:")
		for _, g := range r.Gaps {
			fmt.Fprintf(w, "  - %s\n", g)
		}
	}
}

// writeRows aligns columns: the first textLeft columns left, numbers right.
func writeRows(w io.Writer, rows [][]string, textLeft int) {
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for n, row := range rows {
		var b strings.Builder
		for i, c := range row {
			if i > 0 {
				b.WriteString(" | ")
			}
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i < textLeft {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if n == 0 {
			var sep []string
			for _, wd := range width {
				sep = append(sep, strings.Repeat("-", wd))
			}
			fmt.Fprintln(w, strings.Join(sep, "-+-"))
		}
	}
}

func f0(v float64) string { return fmt.Sprintf("%.0f", v) }
func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// WriteSVG writes a bar chart: one panel per metric (records/s, CPU
// seconds per million records, peak RSS), one bar per run.
func (r *Report) WriteSVG(w io.Writer) error {
	type bar struct {
		label string
		value float64
		color string
	}
	colors := map[string]string{"sluice": "#1f77b4", "benthos": "#ff7f0e"}
	var panels []struct {
		title string
		bars  []bar
	}
	add := func(title string, val func(Run) (float64, bool)) {
		p := struct {
			title string
			bars  []bar
		}{title: title}
		for _, run := range r.Runs {
			if v, ok := val(run); ok && run.OK {
				c := colors[run.System]
				if c == "" {
					c = "#2ca02c"
				}
				p.bars = append(p.bars, bar{run.Name + " (" + run.Format + ")", v, c})
			}
		}
		panels = append(panels, p)
	}
	add("records/s (higher is better)", func(r Run) (float64, bool) { return r.RecordsPerSec, true })
	add("CPU-seconds per million records (lower is better; Sluice incl. feeder)", func(r Run) (float64, bool) {
		u := r.Process
		if r.Feeder != nil {
			u.CPUSeconds += r.Feeder.CPUSeconds
		}
		return r.CPUPerMillion(u), true
	})
	add("peak RSS MiB (lower is better)", func(r Run) (float64, bool) { return r.Process.MaxRSSMiB, true })

	const width, barH, gap, left, panelPad = 900, 22, 6, 260, 40
	height := 50
	for _, p := range panels {
		height += panelPad + len(p.bars)*(barH+gap)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n",
		html.EscapeString(fmt.Sprintf("Sluice vs Benthos: %d click events, %d CPUs (%s)", r.Records, r.Machine.CPUs, r.Machine.CPUModel)))
	y := 50
	for _, p := range panels {
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+14, html.EscapeString(p.title))
		y += panelPad - 10
		maxV := 0.0
		for _, br := range p.bars {
			maxV = max(maxV, br.value)
		}
		for _, br := range p.bars {
			wd := 0.0
			if maxV > 0 {
				wd = br.value / maxV * float64(width-left-110)
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+15, html.EscapeString(br.label))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, wd, barH, br.color)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(left)+wd+6, y+15, html.EscapeString(humanize(br.value)))
			y += barH + gap
		}
		y += 10
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func humanize(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}
