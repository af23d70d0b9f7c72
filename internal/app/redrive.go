package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sinks/firehose"
	"github.com/sluice-dev/sluice/template"
	kinesistrigger "github.com/sluice-dev/sluice/triggers/kinesis"
)

// RedriveRequest is what `sluice redrive` asks for: the body of
// POST /redrive, and the input of RedriveDirect.
type RedriveRequest struct {
	// Template is the path of the caller's template. Directly it is the
	// plan; through the control API the running plan is used and the
	// template only serves to check that the function's code is the one
	// that runs.
	Template           string            `json:"template"`
	ParameterOverrides map[string]string `json:"parameterOverrides,omitempty"`
	Function           string            `json:"function"`
	Since              time.Time         `json:"since,omitzero"`
	Again              bool              `json:"again,omitempty"`
}

// RedriveLine is one line of POST /redrive's answer (newline-delimited
// JSON, streamed as the redrive goes), and what RedriveDirect hands its
// caller: exactly one field is set.
type RedriveLine struct {
	Progress *RedriveProgress `json:"progress,omitempty"`
	// Failed is a record the function failed on again.
	Failed  *RedriveFailed   `json:"failed,omitempty"`
	Summary *RedriveProgress `json:"summary,omitempty"`
	Error   string           `json:"error,omitempty"`
}

// RedriveFailed is one Kinesis record that failed again.
type RedriveFailed struct {
	Key            string `json:"key"` // <bucket>/<failure record key>
	ShardID        string `json:"shardId,omitempty"`
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	PartitionKey   string `json:"partitionKey,omitempty"`
	Error          string `json:"error"`
}

// RedriveProgress counts a redrive so far (or, as a summary, in all).
type RedriveProgress struct {
	Function string `json:"function"`
	// Via is "sluice up" (through the control API) or "state dir".
	Via            string `json:"via"`
	DeliveryStream string `json:"deliveryStream,omitempty"`
	// Done of Total failure records (Lambda's invocation records, each
	// holding one discarded batch).
	Done  int `json:"done"`
	Total int `json:"total"`
	// Records is the Kinesis records in the failure records gone through;
	// FailedAgain those of them the function failed on again.
	Records     int `json:"records"`
	FailedAgain int `json:"failedAgain"`
	// Delivered, Recovered, Skipped and Failed count failure records by
	// outcome (kinesistrigger.RedriveStatus); Output is the output records
	// handed to the delivery stream.
	Delivered int `json:"delivered"`
	Recovered int `json:"recovered"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
	Outside   int `json:"outside,omitempty"`
	Output    int `json:"output"`
}

// String is the progress line: "redrive Enrich: 120/500 failure records,
// 2400 records (3 failed again)".
func (p RedriveProgress) String() string {
	return fmt.Sprintf("redrive %s: %d/%d failure records, %d records (%d failed again)", p.Function, p.Done, p.Total, p.Records, p.FailedAgain)
}

// SummaryLine is the final line `sluice redrive` prints on stdout.
func (p RedriveProgress) SummaryLine() string {
	if p.Total == 0 {
		return fmt.Sprintf("redrive %s: no failure records", p.Function)
	}
	to := "no delivery stream"
	if p.DeliveryStream != "" {
		to = p.DeliveryStream
	}
	s := fmt.Sprintf("redrive %s (%s): %d failure records, %d records: %d delivered to %s (%d output records)",
		p.Function, p.Via, p.Total, p.Records, p.Delivered, to, p.Output)
	if p.Recovered > 0 {
		s += fmt.Sprintf(", %d completed after an interrupted redrive", p.Recovered)
	}
	s += fmt.Sprintf(", %d already redriven (--again replays them), %d failed again (%d records)", p.Skipped, p.Failed, p.FailedAgain)
	if p.Outside > 0 {
		s += fmt.Sprintf(", %d before --since", p.Outside)
	}
	return s
}

// ErrUpRunning says a running `sluice up` holds the state dir: redrive
// through its control API instead.
var ErrUpRunning = errors.New("sluice up is running on this state dir")

// ErrRedriveFailedAgain is returned when the function failed again on some
// records (they stay in the failure bucket, unmarked, for a later redrive).
var ErrRedriveFailedAgain = errors.New("records failed again")

// RedriveOptions tune a redrive.
type RedriveOptions struct {
	// Emit receives progress, failed records and the summary.
	Emit func(RedriveLine)
	// ProgressInterval and ProgressEvery say how often a progress line is
	// emitted: after this long, or this many failure records, whichever
	// comes first. Defaults: 1 s and 100.
	ProgressInterval time.Duration
	ProgressEvery    int

	// Test hooks: load replaces building the function; afterAccept runs
	// between a record's acceptance and its marker (fault injection).
	load        func(ctx context.Context, plan *template.Plan, fn template.Function) (runtime.Invoker, error)
	afterAccept func(key string) error
}

// redriveJob is one redrive, wherever it runs.
type redriveJob struct {
	fn       template.Function
	req      RedriveRequest
	opts     RedriveOptions
	store    kinesistrigger.FailureStore
	invoker  runtime.Invoker
	sink     handover.Acceptor // nil: the function has no delivery stream
	sinkName string
	via      string
	clock    clock.Clock // paces the progress lines
}

// mappingKeys are the failure records of one mapping.
type mappingKeys struct {
	ev   template.KinesisEvent
	keys []string
}

// list finds the failure records of every mapping of the function that
// has an on-failure bucket.
func (j *redriveJob) list(ctx context.Context) ([]mappingKeys, int, error) {
	var all []mappingKeys
	total := 0
	for _, ev := range j.fn.Events {
		if ev.OnFailureBucket == "" {
			continue
		}
		keys, err := kinesistrigger.FailureKeys(ctx, j.store, ev.OnFailureBucket, MappingID(j.fn, ev), j.req.Since)
		if err != nil {
			return nil, 0, fmt.Errorf("event %s: %w", ev.Name, err)
		}
		all = append(all, mappingKeys{ev, keys})
		total += len(keys)
	}
	return all, total, nil
}

// run replays the failure records of every mapping of the function that
// has an on-failure bucket.
func (j *redriveJob) run(ctx context.Context) error {
	all, total, err := j.list(ctx)
	if err != nil {
		return err
	}
	return j.redrive(ctx, all, total)
}

func (j *redriveJob) redrive(ctx context.Context, all []mappingKeys, total int) error {
	p := RedriveProgress{Function: j.fn.LogicalID, Via: j.via, DeliveryStream: j.sinkName, Total: total}
	emit := j.opts.Emit
	if emit == nil {
		emit = func(RedriveLine) {}
	}
	every, interval := j.opts.ProgressEvery, j.opts.ProgressInterval
	if every <= 0 {
		every = 100
	}
	if interval <= 0 {
		interval = time.Second
	}
	last := j.clock.Now()
	for _, mk := range all {
		err := kinesistrigger.RedriveFailures(ctx, kinesistrigger.RedriveConfig{
			Store:                   j.store,
			Bucket:                  mk.ev.OnFailureBucket,
			MappingID:               MappingID(j.fn, mk.ev),
			Since:                   j.req.Since,
			Again:                   j.req.Again,
			Function:                j.invoker,
			ReportBatchItemFailures: slices.Contains(mk.ev.FunctionResponseTypes, "ReportBatchItemFailures"),
			Sink:                    j.sink,
			SinkName:                j.sinkName,
			AfterAccept:             j.opts.afterAccept,
			Clock:                   j.clock,
			OnOutcome: func(o kinesistrigger.RedriveOutcome) {
				p.Done++
				p.Records += o.Records
				p.FailedAgain += o.FailedRecords()
				p.Output += o.Output
				switch o.Status {
				case kinesistrigger.StatusDelivered:
					p.Delivered++
				case kinesistrigger.StatusRecovered:
					p.Recovered++
				case kinesistrigger.StatusSkipped:
					p.Skipped++
				case kinesistrigger.StatusOutside:
					p.Outside++
				case kinesistrigger.StatusFailed:
					p.Failed++
					key := mk.ev.OnFailureBucket + "/" + o.Key
					if o.Error != "" {
						emit(RedriveLine{Failed: &RedriveFailed{Key: key, Error: o.Error}})
					}
					for _, r := range o.Results {
						if !r.OK {
							emit(RedriveLine{Failed: &RedriveFailed{Key: key, ShardID: r.ShardID, SequenceNumber: r.SequenceNumber, PartitionKey: r.PartitionKey, Error: r.Error}})
						}
					}
				}
				if now := j.clock.Now(); p.Done%every == 0 || now.Sub(last) >= interval {
					last = now
					cp := p
					emit(RedriveLine{Progress: &cp})
				}
			},
		}, mk.keys)
		if err != nil {
			cp := p
			emit(RedriveLine{Progress: &cp})
			return fmt.Errorf("redrive %s, event %s: %w", j.fn.LogicalID, mk.ev.Name, err)
		}
	}
	emit(RedriveLine{Summary: &p})
	if p.Failed > 0 {
		return fmt.Errorf("redrive %s: %d records of %d failure records: %w", j.fn.LogicalID, p.FailedAgain, p.Failed, ErrRedriveFailedAgain)
	}
	return nil
}

// RedriveDirect runs a redrive on the state dir itself, for when no
// `sluice up` runs there: it takes the state dir's lock (so an `up` started
// meanwhile waits its turn instead of opening the same write-ahead logs),
// opens the function's delivery stream from its write-ahead log as `up`
// does, redrives, and closes the stream, which flushes what it holds into
// objects. It returns an error wrapping ErrUpRunning when the lock is held.
func RedriveDirect(ctx context.Context, cfg Config, req RedriveRequest, opts RedriveOptions) (err error) {
	// Not cfg.Validate: the listen addresses and limits are up's, unused here.
	if cfg.StateDir == "" {
		return errors.New("no state directory given")
	}
	cfg.fillDefaults()
	plan, err := template.ParseFile(req.Template, template.Options{ParameterOverrides: req.ParameterOverrides})
	if err != nil {
		return err
	}
	fn, err := FindFunction(plan, req.Function)
	if err != nil {
		return err
	}
	stateDir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return err
	}
	lock, err := lockStateDir(stateDir)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("%w: %w", ErrUpRunning, err)
	}
	if err != nil {
		return err
	}
	defer lock.release()

	// The delivery stream's routine lines (objects flushed) would drown
	// the progress lines; its warnings and errors still show.
	log := newLogger(cfg)
	if cfg.LogLevel == "" || cfg.LogLevel == "info" {
		log = slog.New(slog.NewTextHandler(cfg.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	store, _, err := objectStore(ctx, cfg, stateDir, plan)
	if err != nil {
		return err
	}
	fstore, err := failureStore(store)
	if err != nil {
		return err
	}
	load := opts.load
	if load == nil {
		load = func(ctx context.Context, plan *template.Plan, fn template.Function) (runtime.Invoker, error) {
			return LoadFunction(ctx, plan, fn, cfg.CacheDir, cfg.Stderr)
		}
	}
	j := &redriveJob{fn: fn, req: req, opts: opts, store: fstore, via: "state dir", clock: cfg.Clock}
	all, total, err := j.list(ctx)
	if err != nil {
		return err
	}
	if total == 0 {
		// Nothing to replay: build nothing, and leave the delivery
		// stream's log alone (opened with the wrong store, because up
		// wrote to S3 and --s3-endpoint was not given, it would flush
		// into the wrong place).
		if cfg.S3Endpoint == "" {
			for _, ev := range fn.Events {
				if dir := filepath.Join(stateDir, "buckets", ev.OnFailureBucket); ev.OnFailureBucket != "" && !dirExists(dir) {
					fmt.Fprintf(cfg.Stderr, "sluice: redrive: no bucket directory %s (if sluice up wrote to S3, pass the same --s3-endpoint)\n", dir)
				}
			}
		}
		if opts.Emit != nil {
			opts.Emit(RedriveLine{Summary: &RedriveProgress{Function: fn.LogicalID, Via: j.via}})
		}
		return nil
	}
	if j.invoker, err = load(ctx, plan, fn); err != nil {
		return err
	}
	if fn.DeliveryStream != "" {
		idx := slices.IndexFunc(plan.DeliveryStreams, func(ds template.DeliveryStream) bool { return ds.LogicalID == fn.DeliveryStream })
		if idx < 0 {
			return fmt.Errorf("function %s: delivery stream %s is not in the template", fn.LogicalID, fn.DeliveryStream)
		}
		ds := plan.DeliveryStreams[idx]
		fopts := deliveryOptions(cfg, stateDir, ds, store, log)
		if ds.TransformFunction != "" {
			tf, err := FindFunction(plan, ds.TransformFunction)
			if err != nil {
				return fmt.Errorf("delivery stream %s: %w", ds.Name, err)
			}
			t, err := load(ctx, plan, tf)
			if err != nil {
				return fmt.Errorf("delivery stream %s: %w", ds.Name, err)
			}
			fopts.Transform = t.Invoke
		}
		d, err := firehose.Open(firehoseConfig(ds), fopts)
		if err != nil {
			return fmt.Errorf("delivery stream %s: %w", ds.Name, err)
		}
		defer func() {
			// Closing flushes every buffer into objects, the redriven
			// output with whatever an earlier `up` left in the log. Its
			// own deadline: a Ctrl-C must not leave accepted records
			// unflushed (they would wait for the next `up`, not be lost).
			fctx, cancel := clock.WithTimeout(context.WithoutCancel(ctx), cfg.Clock, 2*time.Minute)
			defer cancel()
			if cerr := d.Close(fctx); cerr != nil {
				err = errors.Join(err, fmt.Errorf("closing delivery stream %s: %w", ds.Name, cerr))
			}
		}()
		j.sink, j.sinkName = d, ds.Name
	}
	return j.redrive(ctx, all, total)
}

func dirExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// redriveMu lets one redrive at a time run through a process: two at once
// could both find a record unaccepted and deliver it twice.
var redriveMu sync.Mutex

// serveRedrive is POST /redrive: a redrive through the running instance,
// which holds the state dir. It replays through the running version of the
// function and hands the output to the running delivery stream, looking
// both up for every record, so a deploy meanwhile is waited for rather than
// raced. The answer streams RedriveLine documents, one per line.
func (i *instance) serveRedrive(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	var req RedriveRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeLine(w, http.StatusBadRequest, RedriveLine{Error: "bad redrive request: " + err.Error()})
		return
	}
	if !redriveMu.TryLock() {
		writeLine(w, http.StatusConflict, RedriveLine{Error: "another redrive is running on this sluice"})
		return
	}
	defer redriveMu.Unlock()
	j, status, err := i.redriveJob(req)
	if err != nil {
		writeLine(w, status, RedriveLine{Error: err.Error()})
		return
	}
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	j.opts.Emit = func(l RedriveLine) {
		_ = enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	// r.Context ends when the client goes away (Ctrl-C): the redrive stops
	// between records, and a rerun carries on from there.
	if err := j.run(r.Context()); err != nil && !errors.Is(err, ErrRedriveFailedAgain) {
		j.opts.Emit(RedriveLine{Error: err.Error()})
	}
}

// writeLine answers with one RedriveLine: the stream's shape, one
// document per line (writeJSON indents).
func writeLine(w http.ResponseWriter, status int, l RedriveLine) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(l)
}

func (i *instance) redriveJob(req RedriveRequest) (*redriveJob, int, error) {
	i.genMu.Lock()
	defer i.genMu.Unlock()
	g := i.gen
	fn, err := FindFunction(g.plan, req.Function)
	if err != nil {
		return nil, http.StatusNotFound, err
	}
	if _, ok := g.funcs.loaded[fn.LogicalID]; !ok {
		return nil, http.StatusConflict, fmt.Errorf("function %s is not running", fn.LogicalID)
	}
	if req.Template != "" {
		// Redrive replays through the version that runs: refuse when the
		// caller's code is not that version, rather than replay through
		// a function the user believes is fixed and is not.
		plan, err := template.ParseFile(req.Template, template.Options{ParameterOverrides: req.ParameterOverrides})
		if err != nil {
			return nil, http.StatusBadRequest, err
		}
		if got, runs := codeHashes(plan)[fn.LogicalID], g.code[fn.LogicalID]; got != runs {
			return nil, http.StatusConflict, fmt.Errorf("function %s in %s differs from the version sluice up runs (code %s, running %s): run `sluice deploy` first, redrive replays through the running version",
				fn.LogicalID, req.Template, got, runs)
		}
	}
	store, err := failureStore(g.delivery.store)
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	j := &redriveJob{fn: fn, req: req, store: store, invoker: runningFunction{i, fn.LogicalID}, via: "through sluice up", clock: i.clock}
	if fn.DeliveryStream != "" {
		if d := g.delivery.streams[fn.DeliveryStream]; d != nil {
			j.sink, j.sinkName = runningDelivery{i, fn.DeliveryStream}, d.Config().Name
		}
	}
	return j, http.StatusOK, nil
}

// runningFunction invokes the running generation's version of a function.
type runningFunction struct {
	i  *instance
	id string
}

func (f runningFunction) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.i.genMu.Lock()
	lf, ok := f.i.gen.funcs.loaded[f.id]
	f.i.genMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("function %s is no longer running (removed by a deploy)", f.id)
	}
	return lf.fn.Invoke(ctx, payload)
}

// InvokeKinesis makes runningFunction a runtime.Invoker: a redrive sends
// the failure record's JSON payload, so its typed path is the JSON adapter
// over Invoke.
func (f runningFunction) InvokeKinesis(ctx context.Context, e *events.KinesisEvent) (*runtime.KinesisResult, error) {
	return runtime.JSONInvoker(f.Invoke).InvokeKinesis(ctx, e)
}

// runningDelivery is the running generation's delivery stream. Accept holds
// the generation lock (an fsync long) so that a deploy cannot close the
// stream under it.
type runningDelivery struct {
	i  *instance
	id string
}

func (d runningDelivery) stream() (*firehose.DeliveryStream, error) {
	if s := d.i.gen.delivery.streams[d.id]; s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("delivery stream %s is no longer running (removed by a deploy)", d.id)
}

func (d runningDelivery) Accept(ctx context.Context, b handover.Batch) error {
	d.i.genMu.Lock()
	defer d.i.genMu.Unlock()
	s, err := d.stream()
	if err != nil {
		return err
	}
	return faultReporting{s, d.i.reportStorageFault}.Accept(ctx, b)
}

func (d runningDelivery) Checkpoint(id string) string {
	d.i.genMu.Lock()
	defer d.i.genMu.Unlock()
	s, err := d.stream()
	if err != nil {
		return ""
	}
	return s.Checkpoint(id)
}
