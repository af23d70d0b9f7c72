// Command pipelinebench is `make bench-pipeline`: in one run on one machine
// it pushes the same N generated click events through Sluice's sample
// pipeline (stream → Enrich → delivery stream partitioned by event_type and
// hour, gzip'd JSON lines) and through Benthos doing the equivalent work,
// verifies that both delivered every record exactly once, and reports
// records/s, CPU-seconds per million records and peak RSS for each, the
// Sluice/Benthos ratios, `sluice local invoke` wall time and put→invoke
// latency at a steady rate. It prints a table and writes
// bench/results/latest.{json,svg,txt}. See bench/README.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/bench/internal/benthos"
	"github.com/sluice-dev/sluice/bench/internal/feed"
	"github.com/sluice-dev/sluice/bench/internal/ndjson"
	"github.com/sluice-dev/sluice/bench/internal/proc"
	"github.com/sluice-dev/sluice/bench/internal/report"
	"github.com/sluice-dev/sluice/internal/harness"
)

type config struct {
	N               int
	WasmN           int
	Seed            int64
	Sluice          string
	Benthos         string
	Kfeed           string
	Template        string
	ParquetTemplate string
	WasmTemplate    string
	LatencyTemplate string
	Event           string
	Work            string
	Out             string
	Concurrency     int
	InvokeRuns      int
	LatencyRate     int
	LatencyFor      time.Duration
	Timeout         time.Duration
	Only            string
	Keep            bool
	Repeat          int
	Bucket          string
}

func main() {
	var c config
	flag.IntVar(&c.N, "n", 1_000_000, "click events per pipeline run")
	flag.Int64Var(&c.Seed, "seed", 1, "generator seed (the same file feeds every system)")
	flag.StringVar(&c.Sluice, "sluice", "bin/sluice", "the sluice binary")
	flag.StringVar(&c.Benthos, "benthos", "bin/benthos", "the Benthos v4.60.0 binary")
	flag.StringVar(&c.Kfeed, "kfeed", "bin/kfeed", "the feeder binary (bench/cmd/kfeed)")
	flag.StringVar(&c.Template, "template", "bench/templates/pipeline-json.yaml", "the JSON+gzip pipeline's template (Enrich only: the like-for-like job for Benthos)")
	flag.StringVar(&c.Bucket, "bucket", "clickstream-archive", "the bucket whose events/ prefix holds the pipeline's output")
	flag.StringVar(&c.ParquetTemplate, "parquet-template", "bench/templates/pipeline-parquet.yaml", "Parquet variant of the pipeline (run when it exists and validates)")
	flag.IntVar(&c.WasmN, "wasm-n", 50_000, "click events for the WASM run (WASM Enrich runs ~10× slower than the plugin; records/s and CPU per record are per-record figures, comparable across N)")
	flag.StringVar(&c.WasmTemplate, "wasm-template", "bench/templates/pipeline-wasm.yaml", "WASM-transform variant of the pipeline (run when it exists and validates)")
	flag.StringVar(&c.LatencyTemplate, "latency-template", "bench/templates/latency.yaml", "the latency probe's template")
	flag.StringVar(&c.Event, "event", "samples/events/kinesis-clickstream.json", "event for the local invoke timing")
	flag.StringVar(&c.Work, "work", "", "scratch directory (default: a new temporary directory, removed afterwards)")
	flag.StringVar(&c.Out, "out", "bench/results", "where latest.json, latest.svg and latest.txt go")
	flag.IntVar(&c.Concurrency, "concurrency", 6, "feeder: PutRecords calls of 500 in flight")
	flag.IntVar(&c.InvokeRuns, "invoke-runs", 10, "timed `sluice local invoke` runs (after one warm-up)")
	flag.IntVar(&c.LatencyRate, "latency-rate", 5000, "records/s for the latency measurement")
	flag.DurationVar(&c.LatencyFor, "latency-duration", 20*time.Second, "how long to put at -latency-rate")
	flag.DurationVar(&c.Timeout, "timeout", 40*time.Minute, "bound on the whole run")
	flag.StringVar(&c.Only, "only", "", "comma-separated subset of: benthos,sluice,parquet,wasm,invoke,latency (default all)")
	flag.BoolVar(&c.Keep, "keep", false, "keep the scratch directory")
	flag.IntVar(&c.Repeat, "repeat", 1, "rounds of the pipeline runs (systems alternate; the table shows each one's median)")
	render := flag.String("render", "", "re-render a latest.json (table, SVG, JSON) into -out instead of running")
	flag.Parse()

	if *render != "" {
		if err := rerender(*render, c.Out); err != nil {
			fmt.Fprintf(os.Stderr, "pipelinebench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	rep, err := run(c)
	if rep != nil {
		rep.WriteTable(os.Stdout)
		if werr := write(c.Out, rep); werr != nil {
			err = errors.Join(err, werr)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pipelinebench: %v\n", err)
		os.Exit(1)
	}
}

func (c config) want(part string) bool {
	if c.Only == "" {
		return true
	}
	for _, p := range strings.Split(c.Only, ",") {
		if strings.TrimSpace(p) == part {
			return true
		}
	}
	return false
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "==> "+format+"\n", a...)
}

func run(c config) (*report.Report, error) {
	// SIGINT/SIGTERM (or the timeout) cancel ctx: every child is then
	// killed on the way out instead of outliving the bench.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	rep := &report.Report{Time: time.Now().UTC(), Machine: machine(), Records: c.N, Seed: c.Seed}

	work := c.Work
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "pipelinebench-"); err != nil {
			return nil, err
		}
		if !c.Keep {
			defer os.RemoveAll(work)
		}
	}
	work, _ = filepath.Abs(work)
	cache := filepath.Join(work, "cache")
	input := filepath.Join(work, "clicks.ndjson")
	t0 := time.Now()
	if err := ndjson.Generate(input, c.N, c.Seed); err != nil {
		return nil, err
	}
	st, _ := os.Stat(input)
	logf("generated %d click events (%.0f MiB, seed %d) in %.1fs: %s", c.N, float64(st.Size())/(1<<20), c.Seed, time.Since(t0).Seconds(), input)

	var failures []error
	fail := func(err error) {
		logf("FAILED: %v", err)
		failures = append(failures, err)
	}

	// Optional variants run when this sluice can run their templates as
	// meant, and are listed under "Not measured" otherwise.
	//
	// TODO(wasm): the WASM-vs-plugin comparison is the "sluice wasm" row
	// (Enrich with Loader: wasm) against the "sluice" row. If the WASM
	// loader ends up needing its own transform (functions/scrub) rather than
	// Enrich built for wasip1, add a template wiring Scrub as a plugin and
	// one wiring it as wasm, and list both here.
	type variant struct{ part, name, format, template string }
	var variants []variant
	for _, v := range []variant{
		{"sluice", "sluice", "json+gzip", c.Template},
		{"parquet", "sluice", "parquet", c.ParquetTemplate},
		{"wasm", "sluice wasm", "json+gzip", c.WasmTemplate},
	} {
		if !c.want(v.part) {
			continue
		}
		if v.part != "sluice" {
			if _, err := os.Stat(v.template); err != nil {
				rep.Gaps = append(rep.Gaps, fmt.Sprintf("%s variant: no template %s (see bench/README.md)", v.part, v.template))
				continue
			}
			if gap := unsupported(ctx, c, cache, v.template); gap != "" {
				rep.Gaps = append(rep.Gaps, fmt.Sprintf("%s variant (%s): %s", v.part, v.template, gap))
				continue
			}
		}
		variants = append(variants, v)
	}
	// Rounds alternate the systems, so that a busy spell on a shared
	// machine hits both; the table shows each one's median round.
	groups := map[string][]report.Run{}
	var order []string
	record := func(r report.Run) {
		k := r.Name + "|" + r.Format
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
		rep.AllRuns = append(rep.AllRuns, r)
		if !r.OK {
			fail(fmt.Errorf("%s (%s): %s", r.Name, r.Format, r.Error))
		}
	}
	for round := 1; round <= max(c.Repeat, 1); round++ {
		if c.Repeat > 1 {
			logf("round %d of %d", round, c.Repeat)
		}
		if c.want("benthos") {
			record(runBenthos(ctx, c, work, input, round))
		}
		for _, v := range variants {
			vc, vin := c, input
			if v.part == "wasm" && c.WasmN > 0 && c.WasmN < c.N {
				vc.N, vin = c.WasmN, filepath.Join(work, "clicks-wasm.ndjson")
				if _, err := os.Stat(vin); err != nil {
					if err := ndjson.Generate(vin, vc.N, c.Seed); err != nil {
						fail(fmt.Errorf("wasm input: %w", err))
						continue
					}
				}
			}
			record(runSluice(ctx, vc, work, cache, vin, v.name, v.format, v.template, round))
		}
		if ctx.Err() != nil {
			break
		}
	}
	for _, k := range order {
		rep.Runs = append(rep.Runs, report.Median(groups[k]))
	}
	if max(c.Repeat, 1) == 1 {
		rep.AllRuns = nil // the same as Runs
	}
	finish(rep)
	if err := compareDevices(rep); err != nil {
		fail(err)
	}

	if c.want("invoke") {
		t, err := timeInvoke(ctx, c, cache)
		if err != nil {
			fail(fmt.Errorf("local invoke: %w", err))
		}
		rep.Invoke = t
	}
	if c.want("latency") {
		l, err := measureLatency(ctx, c, work, cache)
		if err != nil {
			fail(fmt.Errorf("latency: %w", err))
		}
		rep.Latency = l
	}
	if !c.want("parquet") || !c.want("benthos") {
		// nothing to add: the user asked for a subset
	} else {
		rep.Gaps = append(rep.Gaps, "Parquet on the Benthos side: Benthos core v4.60.0 has no Parquet encoder in its standard build; a Sluice Parquet run (if any) is compared with nothing")
	}
	return rep, errors.Join(failures...)
}

// unsupported says why this sluice cannot run an optional variant's
// template as meant ("" when it can): validation errors, a warning that
// part of the template is not implemented (e.g. record format conversion
// "not in the plan yet"), or a build failure (e.g. a loader "not available
// yet").
func unsupported(ctx context.Context, c config, cache, template string) string {
	out, err := exec.CommandContext(ctx, c.Sluice, "validate", "-t", template).CombinedOutput()
	if err != nil {
		return "sluice validate: " + firstLine(string(out))
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "not in the plan yet") || strings.Contains(l, "not supported") || strings.Contains(l, "not available") {
			return "sluice validate: " + strings.TrimSpace(l)
		}
	}
	if out, err := exec.CommandContext(ctx, c.Sluice, "build", "-t", template, "--cache-dir", cache).CombinedOutput(); err != nil {
		return "sluice build: " + lastLine(string(out))
	}
	return ""
}

// runBenthos times Benthos doing the pipeline's work on the input file.
func runBenthos(ctx context.Context, c config, work, input string, round int) report.Run {
	r := report.Run{Name: "benthos v4.60.0", System: "benthos", Format: "json+gzip", LoadAvg: loadAvg()}
	out := filepath.Join(work, fmt.Sprintf("benthos-out-%d", round))
	if !c.Keep {
		defer os.RemoveAll(out)
	}
	cfgPath := filepath.Join(work, "benthos.yaml")
	cfg := benthos.Config(benthos.Options{Input: input, OutputDir: out})
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		r.Error = err.Error()
		return r
	}
	logf("benthos: %s -c %s", c.Benthos, cfgPath)
	var stderr bytes.Buffer
	u, err := proc.Run(ctx, c.Benthos, []string{"-c", cfgPath}, io.Discard, &stderr)
	r.Process = usage(u)
	r.Seconds = u.WallSeconds
	if err != nil {
		r.Error = fmt.Sprintf("%v: %s", err, stderr.String())
		return r
	}
	verify(&r, filepath.Join(out, "events"), c.N, "")
	logf("benthos: %d records in %.1fs (%.0f/s), %.1f CPU-s, peak RSS %.0f MiB", r.Delivered, r.Seconds, r.RecordsPerSec, u.CPUSeconds(), u.MaxRSSMiB)
	return r
}

// runSluice times `sluice up` on template, fed by kfeed from the input file.
func runSluice(ctx context.Context, c config, work, cache, input, name, format, template string, round int) report.Run {
	r := report.Run{Name: name, System: "sluice", Format: format, LoadAvg: loadAvg()}
	fail := func(err error) report.Run { r.Error = err.Error(); return r }
	// Build first (cached by content hash) so that the go toolchain's CPU
	// is not charged to the run.
	if out, err := exec.CommandContext(ctx, c.Sluice, "build", "-t", template, "--cache-dir", cache).CombinedOutput(); err != nil {
		return fail(fmt.Errorf("sluice build: %v: %s", err, out))
	}
	stateDir := filepath.Join(work, fmt.Sprintf("state-%s-%d", strings.ReplaceAll(name+"-"+format, " ", "-"), round))
	if !c.Keep {
		defer os.RemoveAll(stateDir)
	}
	s, err := proc.StartSluice(ctx, c.Sluice, nil, "-t", template, "--cache-dir", cache, "--state-dir", stateDir,
		"--limits", "off", "--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--log-level", "warn")
	if err != nil {
		return fail(err)
	}
	defer s.Kill()
	stream := "clickstream"
	logf("%s (%s): ready at %s; feeding %d records with %d concurrent PutRecords of 500", name, format, s.Kinesis, c.N, c.Concurrency)

	start := time.Now()
	var fout, ferr bytes.Buffer
	fu, err := proc.Run(ctx, c.Kfeed, []string{"-endpoint", s.Kinesis, "-stream", stream, "-file", input,
		"-concurrency", fmt.Sprint(c.Concurrency), "-timeout", c.Timeout.String()}, &fout, &ferr)
	fed := time.Now()
	feeder := usage(fu)
	r.Feeder = &feeder
	if err != nil {
		return fail(fmt.Errorf("kfeed: %v: %s", err, ferr.String()))
	}
	var fres feed.Result
	if err := json.Unmarshal(fout.Bytes(), &fres); err != nil {
		return fail(fmt.Errorf("kfeed output %q: %w", fout.String(), err))
	}
	if fres.Acked != c.N {
		return fail(fmt.Errorf("kfeed: %d of %d records acknowledged", fres.Acked, c.N))
	}
	logf("%s (%s): fed in %.1fs (%.0f records/s, %d retried); waiting for every shard's checkpoint", name, format, fed.Sub(start).Seconds(), float64(c.N)/fed.Sub(start).Seconds(), fres.Retries)
	if err := harness.WaitCheckpointed(ctx, stateDir, fres.Last); err != nil {
		return fail(fmt.Errorf("%w\n%s", err, tail(s.Log(), 2000)))
	}
	drained := time.Now()
	if err := s.Stop(5 * time.Minute); err != nil {
		return fail(err)
	}
	stopped := time.Now()
	r.Process = usage(s.Usage())
	r.Seconds = stopped.Sub(start).Seconds()
	r.Phases = []report.Phase{{Name: "feed", Seconds: fed.Sub(start).Seconds()}, {Name: "drain", Seconds: drained.Sub(fed).Seconds()}, {Name: "stop+flush", Seconds: stopped.Sub(drained).Seconds()}}
	bucket := filepath.Join(stateDir, "buckets", c.Bucket)
	if dir, ok := s.Buckets[c.Bucket]; ok {
		bucket = dir
	}
	extra := ""
	if n := countFiles(filepath.Join(bucket, "errors")); n > 0 {
		extra = fmt.Sprintf("%d objects under errors/", n)
	}
	verify(&r, filepath.Join(bucket, "events"), c.N, extra)
	logf("%s (%s): %d records in %.1fs (%.0f/s), sluice %.1f CPU-s + feeder %.1f CPU-s, peak RSS %.0f MiB", name, format, r.Delivered, r.Seconds, r.RecordsPerSec, r.Process.CPUSeconds, feeder.CPUSeconds, r.Process.MaxRSSMiB)
	return r
}

// verify counts the records under dir and says whether every one of n
// arrived exactly once.
func verify(r *report.Run, dir string, n int, extra string) {
	cnt, err := ndjson.Count(dir)
	r.Delivered, r.Duplicates, r.Objects, r.Partitions, r.Devices = cnt.Records, cnt.Duplicates, cnt.Objects, cnt.Partitions, cnt.Devices
	r.OutputMiB = float64(cnt.Bytes) / (1 << 20)
	if r.Seconds > 0 {
		r.RecordsPerSec = float64(cnt.Records) / r.Seconds
	}
	var problems []string
	if err != nil {
		problems = append(problems, err.Error())
	}
	switch {
	case r.Format == "parquet" && cnt.Parquet != cnt.Objects:
		problems = append(problems, fmt.Sprintf("%d of %d objects are not Parquet", cnt.Objects-cnt.Parquet, cnt.Objects))
	case r.Format == "parquet":
		// Rows come from the footers: the count is checked, ids are not.
		if cnt.Records != n {
			problems = append(problems, fmt.Sprintf("output holds %d rows, want %d", cnt.Records, n))
		}
	case cnt.Records != n || cnt.Distinct != n:
		problems = append(problems, fmt.Sprintf("output holds %d records (%d distinct event ids), want %d", cnt.Records, cnt.Distinct, n))
	}
	if cnt.Duplicates > 0 {
		problems = append(problems, fmt.Sprintf("%d duplicates", cnt.Duplicates))
	}
	if extra != "" {
		problems = append(problems, extra)
	}
	r.OK = len(problems) == 0
	r.Error = strings.Join(problems, "; ")
}

// finish computes what is derived from the runs: the Sluice/Benthos
// ratios, and WASM against plugin when both ran.
func finish(rep *report.Report) {
	rep.ComputeRatios()
	var plugin, wasm *report.Run
	for i := range rep.Runs {
		r := &rep.Runs[i]
		switch {
		case !r.OK || r.Format != "json+gzip":
		case r.Name == "sluice":
			plugin = r
		case r.Name == "sluice wasm":
			wasm = r
		}
	}
	if plugin != nil && wasm != nil {
		rep.Extra = append(rep.Extra, [2]string{"WASM Enrich / plugin Enrich (same run)", fmt.Sprintf("throughput %.2f×, CPU per record %.2f×, peak RSS %.2f×",
			wasm.RecordsPerSec/plugin.RecordsPerSec, wasm.CPUPerMillion(wasm.Process)/plugin.CPUPerMillion(plugin.Process), wasm.Process.MaxRSSMiB/plugin.Process.MaxRSSMiB)})
	}
}

// compareDevices checks that every run that reports a device_class
// histogram (JSON outputs; Parquet rows are only counted) classified the
// same events alike.
func compareDevices(rep *report.Report) error {
	var ref *report.Run
	for i := range rep.Runs {
		r := &rep.Runs[i]
		if !r.OK || len(r.Devices) == 0 {
			continue
		}
		if ref == nil {
			ref = r
			continue
		}
		if r.Delivered != ref.Delivered {
			// A run over fewer events (the WASM run's -wasm-n) classifies a
			// prefix of the input: its histogram is not comparable. The
			// runtime's tests assert byte-identical responses across loaders.
			continue
		}
		if fmt.Sprint(r.Devices) != fmt.Sprint(ref.Devices) {
			msg := fmt.Sprintf("%s (%s) %v vs %s (%s) %v", ref.Name, ref.Format, ref.Devices, r.Name, r.Format, r.Devices)
			rep.Extra = append(rep.Extra, [2]string{"device_class MISMATCH", msg})
			return errors.New("device_class histograms differ: " + msg)
		}
	}
	if ref != nil {
		rep.Extra = append(rep.Extra, [2]string{"device_class histogram (identical in every JSON run)", fmt.Sprint(ref.Devices)})
	}
	return nil
}

// timeInvoke times `sluice local invoke Enrich` (one warm-up, then runs).
func timeInvoke(ctx context.Context, c config, cache string) (*report.Timing, error) {
	args := []string{"local", "invoke", "Enrich", "-e", c.Event, "-t", c.Template, "--cache-dir", cache}
	var ms []float64
	for i := 0; i <= c.InvokeRuns; i++ {
		var out, errb bytes.Buffer
		u, err := proc.Run(ctx, c.Sluice, args, &out, &errb)
		if err != nil {
			return nil, fmt.Errorf("%v: %s", err, errb.String())
		}
		if !bytes.Contains(out.Bytes(), []byte(`"records":[`)) {
			return nil, fmt.Errorf("unexpected response %q", out.String())
		}
		if i > 0 {
			ms = append(ms, u.WallSeconds*1000)
		}
	}
	t := report.NewTiming("sluice local invoke Enrich (built, cached; "+filepath.Base(c.Event)+")", ms)
	logf("local invoke: p50 %.0f ms over %d runs", t.P50, t.Runs)
	return t, nil
}

// measureLatency runs the latency probe template at a steady rate and
// reads put→invoke latencies from the probe's output.
func measureLatency(ctx context.Context, c config, work, cache string) (*report.Latency, error) {
	if out, err := exec.CommandContext(ctx, c.Sluice, "build", "-t", c.LatencyTemplate, "--cache-dir", cache).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sluice build: %v: %s", err, out)
	}
	stateDir := filepath.Join(work, "state-latency")
	s, err := proc.StartSluice(ctx, c.Sluice, nil, "-t", c.LatencyTemplate, "--cache-dir", cache, "--state-dir", stateDir,
		"--limits", "off", "--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--log-level", "warn",
		"--max-buffer-interval", "1s")
	if err != nil {
		return nil, err
	}
	defer s.Kill()
	logf("latency: putting %d records/s for %s", c.LatencyRate, c.LatencyFor)
	var fout, ferr bytes.Buffer
	if _, err := proc.Run(ctx, c.Kfeed, []string{"-endpoint", s.Kinesis, "-stream", "latency", "-rate", fmt.Sprint(c.LatencyRate),
		"-duration", c.LatencyFor.String(), "-timeout", (c.LatencyFor + 2*time.Minute).String()}, &fout, &ferr); err != nil {
		return nil, fmt.Errorf("kfeed: %v: %s", err, ferr.String())
	}
	var fres feed.Result
	if err := json.Unmarshal(fout.Bytes(), &fres); err != nil {
		return nil, fmt.Errorf("kfeed output %q: %w", fout.String(), err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer wcancel()
	if err := harness.WaitCheckpointed(wctx, stateDir, fres.Last); err != nil {
		return nil, err
	}
	// Copies of a probe already in the stream are the producer's (an SDK
	// retry of a PutRecords call the stream had stored); only copies beyond
	// those would be the pipeline's.
	inStream, err := harness.StreamCount(wctx, harness.KinesisClient(s.Kinesis), "latency", probeSeq)
	if err != nil {
		return nil, fmt.Errorf("reading the latency stream: %w", err)
	}
	if err := s.Stop(2 * time.Minute); err != nil {
		return nil, err
	}
	bucket := filepath.Join(stateDir, "buckets", "latency-probes")
	if dir, ok := s.Buckets["latency-probes"]; ok {
		bucket = dir
	}
	ms, objMS, dups, err := readProbes(filepath.Join(bucket, "probes"))
	if err != nil {
		return nil, err
	}
	l := report.NewLatency(c.LatencyRate, fres.Seconds, fres.Acked, ms)
	l.Duplicates = dups
	for _, n := range inStream {
		l.StreamDuplicates += n - 1
	}
	if pipeline := l.Duplicates - l.StreamDuplicates; pipeline != 0 {
		return l, fmt.Errorf("%d probes out of the function beyond the stream's copies (%d duplicates out, %d in the stream)", pipeline, l.Duplicates, l.StreamDuplicates)
	}
	if len(objMS) > 0 {
		o := report.NewLatency(0, 0, 0, objMS)
		l.ObjectP50, l.ObjectP99 = o.P50, o.P99
	}
	if l.Received != fres.Acked {
		return l, fmt.Errorf("%d probes acknowledged, %d distinct ones came out of the function", fres.Acked, l.Received)
	}
	logf("latency: p50 %.1f ms, p99 %.1f ms", l.P50, l.P99)
	return l, nil
}

func probeSeq(data []byte) string {
	var p struct {
		Seq json.Number `json:"seq"`
	}
	_ = json.Unmarshal(data, &p)
	return p.Seq.String()
}

// readProbes reads {"seq","put_ns","recv_ns"} lines from the objects under
// dir: put→invoke in ms, and put→object-written (file mtime) in ms, for the
// first copy of each probe; dups counts further copies (a PutRecords call
// the SDK retried after the stream had stored it, or a batch the mapping
// delivered twice: from the bucket alone the two look the same).
func readProbes(dir string) (invoke, object []float64, dups int, err error) {
	seen := map[int64]bool{}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var p struct {
				Seq  int64 `json:"seq"`
				Put  int64 `json:"put_ns"`
				Recv int64 `json:"recv_ns"`
			}
			if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if seen[p.Seq] {
				dups++
				continue
			}
			seen[p.Seq] = true
			invoke = append(invoke, float64(p.Recv-p.Put)/1e6)
			object = append(object, float64(info.ModTime().UnixNano()-p.Put)/1e6)
		}
		return sc.Err()
	})
	return invoke, object, dups, err
}

// loadAvg is the 1-minute load average, 0 when unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	fmt.Sscanf(string(b), "%f", &l)
	return l
}

func usage(u proc.Usage) report.Usage {
	return report.Usage{WallSeconds: u.WallSeconds, CPUSeconds: u.CPUSeconds(), MaxRSSMiB: u.MaxRSSMiB}
}

func countFiles(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func machine() report.Machine {
	m := report.Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				var kb float64
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%f", &kb)
				m.MemTotal = fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// rerender recomputes the derived figures of a saved report with this
// version of the code and writes it out again.
func rerender(path, out string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep report.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	rep.Extra = nil
	finish(&rep)
	derr := compareDevices(&rep)
	rep.WriteTable(os.Stdout)
	return errors.Join(derr, write(out, &rep))
}

func write(dir string, rep *report.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	var table, svg bytes.Buffer
	rep.WriteTable(&table)
	if err := rep.WriteSVG(&svg); err != nil {
		return err
	}
	for name, data := range map[string][]byte{"latest.json": append(j, '\n'), "latest.txt": table.Bytes(), "latest.svg": svg.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	logf("wrote %s/latest.{json,txt,svg}", dir)
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
