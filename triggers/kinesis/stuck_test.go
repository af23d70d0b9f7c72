package kinesis_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/wasm"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// stuckFunction is a WASM function whose main() never returns
// (runtime/testdata/watinit, INIT=spin), with small init and invocation
// limits. It counts its invocations and signals each one's start.
func stuckFunction(t *testing.T, timeout time.Duration) *countingInvoker {
	t.Helper()
	code, err := os.ReadFile("../../runtime/testdata/watinit/init.wasm")
	if err != nil {
		t.Fatal(err)
	}
	cfg := runtime.Config{Name: "Stuck", InitTimeout: 50 * time.Millisecond, Timeout: timeout, MemoryMB: 16, Env: map[string]string{"INIT": "spin"}}
	mod, err := wasm.NewModule(context.Background(), code, cfg, wasm.Options{CompileCacheDir: "off"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mod.Close(context.Background()) })
	return &countingInvoker{fn: runtime.NewWithEngine(cfg, mod), started: make(chan struct{}, 100)}
}

type countingInvoker struct {
	fn      *runtime.Function
	calls   atomic.Int64
	started chan struct{}
}

func (c *countingInvoker) note() {
	c.calls.Add(1)
	select {
	case c.started <- struct{}{}:
	default:
	}
}

func (c *countingInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	c.note()
	return c.fn.Invoke(ctx, payload)
}

func (c *countingInvoker) InvokeKinesis(ctx context.Context, e *events.KinesisEvent) (*runtime.KinesisResult, error) {
	c.note()
	return c.fn.InvokeKinesis(ctx, e)
}

func (c *countingInvoker) waitStart(t *testing.T) {
	t.Helper()
	select {
	case <-c.started:
	case <-time.After(prompt):
		t.Fatal("the mapping never invoked the function")
	}
}

// prompt bounds what must not hang; never a measure of speed.
const prompt = 30 * time.Second

// iteratorAge reads sluice_esm_iterator_age_milliseconds of one shard.
func iteratorAge(t *testing.T, reg *prometheus.Registry, shard string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "sluice_esm_iterator_age_milliseconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "shard" && l.GetValue() == shard {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// TestStuckFunctionRetriedPerPolicy: a mapping over a function whose init
// never finishes does not hang its shard. Every invocation fails as a
// timeout (the init phase, then its retry inside the invocation), the
// batch is retried MaximumRetryAttempts times and then sent to the
// on-failure destination, so every record put is accounted for and the
// checkpoint moves on; and while the shard is stuck its iterator age grows
// (it read 0: nothing was read or finished while stuck).
func TestStuckFunctionRetriedPerPolicy(t *testing.T) {
	s := newScenario(t, "embedded", 1)
	s.put(t, []string{"a", "b", "c"}, []string{"k1", "k2", "k3"})
	fn := stuckFunction(t, 200*time.Millisecond)
	fd := newMemDest()
	metrics := kt.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.Collectors()...)
	const retries = 2
	cfg := kt.Config{ID: "stuck", FunctionName: "Stuck", StreamName: s.stream, StartingPosition: "TRIM_HORIZON",
		MaximumRetryAttempts: retries, RetryAttemptsSet: true, OnFailureBucket: "failures"}
	m, err := kt.New(cfg, s.reader, fn, nil, s.store, kt.Options{OnFailure: fd, Metrics: metrics,
		PollInterval: 20 * time.Millisecond, RetryBaseDelay: time.Millisecond, RetryMaxDelay: 4 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	shard := s.recs[0].shard
	fn.waitStart(t)
	before := iteratorAge(t, reg, shard)
	fn.waitStart(t) // the retry: the first attempt timed out, ≥ 200 ms after the records arrived
	during := iteratorAge(t, reg, shard)
	if during <= before || during < 200 {
		t.Errorf("iterator age %v ms, then %v ms while the shard is stuck; want it growing, ≥ 200 ms", before, during)
	}

	s.waitDone(t, "stuck")
	if got := fn.calls.Load(); got != retries+1 {
		t.Errorf("%d invocations, want %d (MaximumRetryAttempts %d)", got, retries+1, retries)
	}
	_, frs := fd.records(t)
	if len(frs) != 1 || frs[0].KinesisBatchInfo.BatchSize != 3 ||
		frs[0].KinesisBatchInfo.StartSequenceNumber != s.recs[0].seq || frs[0].KinesisBatchInfo.EndSequenceNumber != s.recs[2].seq {
		t.Fatalf("failure records %+v, want one holding all 3 records", frs)
	}
	fr := frs[0]
	if fr.RequestContext.Condition != kt.ConditionRetryAttemptsExhausted || fr.RequestContext.ApproximateInvokeCount != retries+1 ||
		fr.ResponseContext == nil || fr.ResponseContext.FunctionError == nil || *fr.ResponseContext.FunctionError != "Unhandled" {
		t.Errorf("failure record %+v %+v", fr.RequestContext, fr.ResponseContext)
	}
	if age := iteratorAge(t, reg, shard); age != 0 {
		t.Errorf("iterator age %v ms once every record is done, want 0", age)
	}
}

// TestShutdownDoesNotWaitForStuckFunction: shutdown lets an in-flight
// batch finish, but no longer than DrainTimeout: a function stuck in its
// init (with an hour's Timeout) is stopped, the mapping returns, and the
// batch is not checkpointed — a restart with a working function delivers
// every record.
func TestShutdownDoesNotWaitForStuckFunction(t *testing.T) {
	s := newScenario(t, "embedded", 1)
	s.put(t, []string{"a", "b"}, []string{"k1", "k2"})
	fn := stuckFunction(t, time.Hour)
	cfg := kt.Config{ID: "drain", FunctionName: "Stuck", StreamName: s.stream, StartingPosition: "TRIM_HORIZON"}
	m, err := kt.New(cfg, s.reader, fn, nil, s.store, kt.Options{DrainTimeout: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	fn.waitStart(t)
	cancel()
	select {
	case <-done:
	case <-time.After(prompt):
		t.Fatal("the mapping waited on a stuck function past its drain timeout")
	}
	if pos, err := s.store.Get(context.Background(), "drain", s.recs[0].shard); err != nil || pos.SequenceNumber != "" {
		t.Fatalf("checkpoint %+v, %v after an unfinished batch; want none", pos, err)
	}

	sink := newRecordingSink()
	_, stop := s.start(t, cfg, echo, sink, nil)
	defer stop()
	s.waitDone(t, "drain")
	if got := sink.data(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("after restart the sink got %q, want [a b]", got)
	}
}
