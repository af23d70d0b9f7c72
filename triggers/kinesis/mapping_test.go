package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/streams"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// recordingSink accepts batches into memory; it can refuse the first
// failFirst calls, to show that a refused batch is retried, not dropped.
type recordingSink struct {
	mu        sync.Mutex
	batches   []handover.Batch
	records   int
	failFirst int
	calls     int
	cps       map[string]string
	changed   chan struct{}
}

func newRecordingSink() *recordingSink {
	return &recordingSink{cps: map[string]string{}, changed: make(chan struct{}, 1)}
}

func (s *recordingSink) Accept(_ context.Context, b handover.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls <= s.failFirst {
		return errors.New("injected: sink unavailable")
	}
	s.batches = append(s.batches, b)
	s.records += len(b.Records)
	s.cps[b.Source.ID] = b.Source.Checkpoint
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return nil
}

func (s *recordingSink) Checkpoint(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cps[id]
}

// waitRecords waits until the sink holds n records.
func (s *recordingSink) waitRecords(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		s.mu.Lock()
		got := s.records
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-s.changed:
		case <-timeout:
			t.Fatalf("sink holds %d records, want %d", got, n)
		}
	}
}

// echo is a stream handler that outputs every record's data unchanged.
func echo(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
	var resp sdk.StreamResponse
	for _, r := range e.Records {
		resp.Records = append(resp.Records, sdk.OutputRecord{Data: r.Kinesis.Data})
	}
	return resp, nil
}

type env struct {
	engine *streams.Engine
	reader kt.Reader
	store  checkpoint.Store
}

func newEnv(t *testing.T, overHTTP bool) *env {
	t.Helper()
	engine, err := streams.Open(t.TempDir(), streams.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	if err := engine.CreateStream(context.Background(), "clicks", 2); err != nil {
		t.Fatal(err)
	}
	var reader kt.Reader = engine.Client()
	if overHTTP {
		// The real SDK client over the Kinesis API: the mapping cannot tell
		// it from Amazon Kinesis.
		srv := httptest.NewServer(engine.Handler())
		t.Cleanup(srv.Close)
		t.Setenv("AWS_CA_BUNDLE", "")
		reader = kinesis.New(kinesis.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
		})
	}
	store, err := checkpoint.OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &env{engine: engine, reader: reader, store: store}
}

func (e *env) put(t *testing.T, from, n int) {
	t.Helper()
	for start := from; start < from+n; start += 500 {
		var entries []types.PutRecordsRequestEntry
		for i := start; i < min(start+500, from+n); i++ {
			entries = append(entries, types.PutRecordsRequestEntry{
				Data:         fmt.Appendf(nil, "%d", i),
				PartitionKey: aws.String(fmt.Sprintf("key-%d", i%37)),
			})
		}
		out, err := e.engine.Client().PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("clicks"), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("put: %v (%v failed)", err, out)
		}
	}
}

func (e *env) run(t *testing.T, cfg kt.Config, sink handover.Acceptor) (stop func()) {
	t.Helper()
	_, stop = e.start(t, cfg, sink)
	return stop
}

func (e *env) start(t *testing.T, cfg kt.Config, sink handover.Acceptor) (*kt.Mapping, func()) {
	t.Helper()
	fn, err := runtime.New(runtime.Config{Name: "Echo"}, echo)
	if err != nil {
		t.Fatal(err)
	}
	m, err := kt.New(cfg, e.reader, fn, sink, e.store, kt.Options{PollInterval: 50 * time.Millisecond, RetryBaseDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	return m, func() { cancel(); <-done }
}

func TestMappingDeliversInOrderAndCheckpoints(t *testing.T) {
	for _, overHTTP := range []bool{false, true} {
		t.Run(fmt.Sprintf("http=%v", overHTTP), func(t *testing.T) {
			e := newEnv(t, overHTTP)
			e.put(t, 0, 1200)
			sink := newRecordingSink()
			cfg := kt.Config{ID: "m-1", FunctionName: "Echo", StreamName: "clicks", BatchSize: 100, StartingPosition: "TRIM_HORIZON"}
			stop := e.run(t, cfg, sink)
			sink.waitRecords(t, 1200)
			stop()

			// Per partition key, records arrive in the order they were put.
			lastByKey := map[int]int{}
			seen := map[int]bool{}
			for _, b := range sink.batches {
				if len(b.Records) > 100 {
					t.Errorf("batch of %d exceeds BatchSize 100", len(b.Records))
				}
				for _, r := range b.Records {
					var i int
					fmt.Sscan(string(r.Data), &i)
					if seen[i] {
						t.Errorf("record %d delivered twice", i)
					}
					seen[i] = true
					if prev, ok := lastByKey[i%37]; ok && prev > i {
						t.Errorf("key %d: record %d after %d", i%37, i, prev)
					}
					lastByKey[i%37] = i
				}
			}
			if len(seen) != 1200 {
				t.Fatalf("delivered %d distinct records, want 1200", len(seen))
			}
			// The store's checkpoint equals what the sink accepted last.
			for id, seq := range sink.cps {
				shard := id[len("m-1/"):]
				pos, err := e.store.Get(context.Background(), "m-1", shard)
				if err != nil || pos.SequenceNumber != seq {
					t.Errorf("shard %s: store checkpoint %q, sink %q (%v)", shard, pos.SequenceNumber, seq, err)
				}
			}

			// A restart resumes after the checkpoint: only new records come.
			e.put(t, 1200, 50)
			sink2 := newRecordingSink()
			stop = e.run(t, cfg, sink2)
			sink2.waitRecords(t, 50)
			stop()
			if sink2.records != 50 {
				t.Errorf("after restart the sink got %d records, want the 50 new ones", sink2.records)
			}
		})
	}
}

func TestRefusedBatchIsRetriedNotDropped(t *testing.T) {
	e := newEnv(t, false)
	e.put(t, 0, 10)
	sink := newRecordingSink()
	sink.failFirst = 1
	stop := e.run(t, kt.Config{ID: "m-2", FunctionName: "Echo", StreamName: "clicks", BatchSize: 100, StartingPosition: "TRIM_HORIZON"}, sink)
	sink.waitRecords(t, 10)
	stop()
	if sink.records != 10 {
		t.Errorf("sink holds %d records, want 10", sink.records)
	}
}

func TestResumesFromSinkCheckpointWhenAheadOfStore(t *testing.T) {
	// A crash after the sink accepted a batch but before the store recorded
	// it: the sink's checkpoint is ahead, and the mapping must not hand the
	// same batch over again.
	e := newEnv(t, false)
	e.put(t, 0, 300)
	sink := newRecordingSink()
	cfg := kt.Config{ID: "m-3", FunctionName: "Echo", StreamName: "clicks", BatchSize: 1000, StartingPosition: "TRIM_HORIZON"}
	stop := e.run(t, cfg, sink)
	sink.waitRecords(t, 300)
	stop()

	fresh, err := checkpoint.OpenFileStore(t.TempDir()) // the store lost everything
	if err != nil {
		t.Fatal(err)
	}
	e.store = fresh
	e.put(t, 300, 20)
	again := newRecordingSink()
	again.cps = sink.cps
	stop = e.run(t, cfg, again)
	again.waitRecords(t, 20)
	stop()
	if again.records != 20 {
		t.Errorf("got %d records after restart, want only the 20 new ones", again.records)
	}
}

// TestPositionedMeansLatestSeesEveryLaterRecord: once Positioned is closed,
// a mapping at LATEST has its iterators at the tip of every shard, so every
// record put afterwards is delivered and none from before. (`sluice up`
// prints ready only then; before, a record put right after ready could be
// skipped by a LATEST iterator opened a moment later.)
func TestPositionedMeansLatestSeesEveryLaterRecord(t *testing.T) {
	for _, overHTTP := range []bool{false, true} {
		t.Run(fmt.Sprintf("http=%v", overHTTP), func(t *testing.T) {
			e := newEnv(t, overHTTP)
			e.put(t, 0, 100)
			sink := newRecordingSink()
			m, stop := e.start(t, kt.Config{ID: "m-4", FunctionName: "Echo", StreamName: "clicks", BatchSize: 10, StartingPosition: "LATEST"}, sink)
			defer stop()
			select {
			case <-m.Positioned():
			case <-time.After(30 * time.Second):
				t.Fatal("the mapping never reported a position on every shard")
			}
			e.put(t, 100, 100) // spread over both shards by key
			sink.waitRecords(t, 100)
			sink.mu.Lock()
			defer sink.mu.Unlock()
			seen := map[int]bool{}
			for _, b := range sink.batches {
				for _, r := range b.Records {
					var i int
					fmt.Sscan(string(r.Data), &i)
					if i < 100 {
						t.Fatalf("LATEST delivered record %d, written before the mapping started", i)
					}
					seen[i] = true
				}
			}
			if len(seen) != 100 {
				t.Fatalf("delivered %d distinct records put after Positioned, want all 100", len(seen))
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		cfg  kt.Config
		want string
	}{
		{kt.Config{ID: "x", StreamName: "s", BatchSize: 10001, StartingPosition: "LATEST"}, "BatchSize: must be between 1 and 10000, got 10001"},
		{kt.Config{ID: "x", StreamName: "s", StartingPosition: "EARLIEST"}, `StartingPosition: must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got "EARLIEST"`},
		{kt.Config{ID: "x", StreamName: "s", StartingPosition: "AT_TIMESTAMP"}, "needs StartingPositionTimestamp"},
		{kt.Config{ID: "x", StreamName: "s", StartingPosition: "LATEST", MaximumBatchingWindow: 301 * time.Second}, "MaximumBatchingWindowInSeconds: must be between 0 and 300, got 301"},
		{kt.Config{ID: "x", StreamName: "s", StartingPosition: "LATEST", MaximumRetryAttempts: 10001}, "MaximumRetryAttempts: must be between -1 and 10000, got 10001"},
		{kt.Config{ID: "x", StreamName: "s", StartingPosition: "LATEST", MaximumRecordAge: 59 * time.Second}, "MaximumRecordAgeInSeconds: must be -1 (infinite) or between 60 and 604800, got 59"},
		{kt.Config{ID: "x", StreamName: "s", StartingPosition: "LATEST", ParallelizationFactor: 11}, "ParallelizationFactor: must be between 1 and 10, got 11"},
		{kt.Config{ID: "x", StreamName: "s", StartingPosition: "LATEST", TumblingWindow: 901 * time.Second}, "TumblingWindowInSeconds: must be between 0 and 900, got 901"},
		{kt.Config{ID: "x", StreamName: "s", StartingPosition: "LATEST", TumblingWindow: time.Minute, ParallelizationFactor: 2}, "needs ParallelizationFactor 1"},
		{kt.Config{ID: "x", StreamName: "s", StartingPosition: "LATEST", FilterPatterns: []string{`{"data":{"a":"b"}}`}}, "FilterCriteria"},
	}
	for _, tc := range tests {
		_, err := kt.New(tc.cfg, nil, nil, nil, nil, kt.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
