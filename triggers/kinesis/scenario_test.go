package kinesis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/internal/testpeers"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/streams"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// The scenario suite runs the same failure-handling scenarios against every
// Kinesis the mapping must work with (issue 5): the embedded stream
// in-process, the embedded stream over HTTP through the SDK, and
// kinesalite, an independent implementation, through the SDK.

// writer is the part of a Kinesis client the scenarios write through.
type writer interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

type scenario struct {
	reader kt.Reader
	writer writer
	stream string
	store  *notifyStore
	// put records, in put order
	mu   sync.Mutex
	recs []putRecord
}

type putRecord struct {
	data, key, shard, seq string
}

var backends = []string{"embedded", "http", "kinesalite"}

func newScenario(t *testing.T, backend string, shards int) *scenario {
	t.Helper()
	s := &scenario{stream: "events"}
	switch backend {
	case "embedded", "http":
		engine, err := streams.Open(t.TempDir(), streams.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { engine.Close() })
		if err := engine.CreateStream(context.Background(), s.stream, shards); err != nil {
			t.Fatal(err)
		}
		s.reader, s.writer = engine.Client(), engine.Client()
		if backend == "http" {
			srv := httptest.NewServer(engine.Handler())
			t.Cleanup(srv.Close)
			t.Setenv("AWS_CA_BUNDLE", "")
			c := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
				Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
			s.reader = c
		}
	case "kinesalite":
		t.Setenv("AWS_CA_BUNDLE", "")
		c := testpeers.KinesisClient(t, testpeers.Kinesalite(t))
		ctx := context.Background()
		if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(s.stream), ShardCount: aws.Int32(int32(shards))}); err != nil {
			t.Fatal(err)
		}
		w := kinesis.NewStreamExistsWaiter(c, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
		if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(s.stream)}, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		s.reader, s.writer = c, c
	default:
		t.Fatalf("unknown backend %s", backend)
	}
	fs, err := checkpoint.OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.store = &notifyStore{Store: fs, changed: make(chan struct{}, 1)}
	return s
}

// put writes records with the given data and partition keys.
func (s *scenario) put(t *testing.T, data, keys []string) {
	t.Helper()
	for start := 0; start < len(data); start += 500 {
		end := min(start+500, len(data))
		var entries []types.PutRecordsRequestEntry
		for i := start; i < end; i++ {
			entries = append(entries, types.PutRecordsRequestEntry{Data: []byte(data[i]), PartitionKey: aws.String(keys[i])})
		}
		out, err := s.writer.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(s.stream), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("put: %v (%v failed)", err, out)
		}
		s.mu.Lock()
		for i, r := range out.Records {
			s.recs = append(s.recs, putRecord{data: data[start+i], key: keys[start+i], shard: aws.ToString(r.ShardId), seq: aws.ToString(r.SequenceNumber)})
		}
		s.mu.Unlock()
	}
}

// lastSeqs returns each shard's last put sequence number.
func (s *scenario) lastSeqs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := map[string]string{}
	for _, r := range s.recs {
		last[r.shard] = r.seq
	}
	return last
}

func (s *scenario) start(t *testing.T, cfg kt.Config, handler any, sink handover.Acceptor, fd kt.FailureDestination) (*kt.Mapping, func()) {
	t.Helper()
	return s.startOpts(t, cfg, handler, sink, kt.Options{OnFailure: fd})
}

// startWithClock runs a mapping whose clock is now.
func (s *scenario) startWithClock(t *testing.T, cfg kt.Config, handler any, fd kt.FailureDestination, now func() time.Time) func() {
	t.Helper()
	_, stop := s.startOpts(t, cfg, handler, nil, kt.Options{OnFailure: fd, Now: now})
	return stop
}

func (s *scenario) startOpts(t *testing.T, cfg kt.Config, handler any, sink handover.Acceptor, opts kt.Options) (*kt.Mapping, func()) {
	t.Helper()
	fn, err := runtime.New(runtime.Config{Name: cfg.FunctionName, Timeout: 10 * time.Second}, handler)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StreamName == "" {
		cfg.StreamName = s.stream
	}
	if cfg.StartingPosition == "" {
		cfg.StartingPosition = "TRIM_HORIZON"
	}
	opts.PollInterval, opts.RetryBaseDelay, opts.RetryMaxDelay = 20*time.Millisecond, time.Millisecond, 4*time.Millisecond
	m, err := kt.New(cfg, s.reader, fn, sink, s.store, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	return m, func() { cancel(); <-done }
}

// waitDone waits until mapping id's checkpoint of every shard reaches the
// last record put there.
func (s *scenario) waitDone(t *testing.T, id string) {
	t.Helper()
	want := s.lastSeqs()
	timeout := time.After(60 * time.Second)
	for {
		all := true
		for shard, seq := range want {
			pos, err := s.store.Get(context.Background(), id, shard)
			if err != nil || pos.SequenceNumber != seq {
				all = false
				break
			}
		}
		if all {
			return
		}
		select {
		case <-s.store.changed:
		case <-timeout:
			t.Fatalf("checkpoints of %s never reached %v", id, want)
		}
	}
}

// notifyStore signals every Put, so tests wait on an event, not a timer.
type notifyStore struct {
	checkpoint.Store
	changed chan struct{}
}

func (s *notifyStore) Put(ctx context.Context, m, shard string, pos checkpoint.Position) error {
	err := s.Store.Put(ctx, m, shard, pos)
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return err
}

// memDest is an in-memory kt.FailureStore: failure records, markers and
// (for redrive tests) nothing else.
type memDest struct {
	mu   sync.Mutex
	objs map[string][]byte // bucket/key → body
	fail int               // refuse the first fail puts
}

func newMemDest() *memDest { return &memDest{objs: map[string][]byte{}} }

var errNoObject = errors.New("no such object")

func (d *memDest) PutFailure(_ context.Context, bucket, key string, body []byte, _ int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail > 0 {
		d.fail--
		return errors.New("injected: store unavailable")
	}
	d.objs[bucket+"/"+key] = slices.Clone(body)
	return nil
}

func (d *memDest) GetFailure(_ context.Context, bucket, key string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.objs[bucket+"/"+key]
	if !ok {
		return nil, fmt.Errorf("%s/%s: %w", bucket, key, errNoObject)
	}
	return slices.Clone(b), nil
}

func (d *memDest) ListFailures(_ context.Context, bucket, prefix string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var keys []string
	for k := range d.objs {
		if key, ok := strings.CutPrefix(k, bucket+"/"); ok && strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// records returns the failure records, ordered by start sequence number.
func (d *memDest) records(t *testing.T) ([]string, []kt.FailureRecord) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var keys []string
	for k := range d.objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var recs []kt.FailureRecord
	for _, k := range keys {
		var fr kt.FailureRecord
		if err := json.Unmarshal(d.objs[k], &fr); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		recs = append(recs, fr)
	}
	sort.SliceStable(recs, func(i, j int) bool {
		return seqLessT(recs[i].KinesisBatchInfo.StartSequenceNumber, recs[j].KinesisBatchInfo.StartSequenceNumber)
	})
	return keys, recs
}

func seqLessT(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// sinkData returns every record's data the sink accepted, in order.
func (s *recordingSink) data() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, b := range s.batches {
		for _, r := range b.Records {
			out = append(out, string(r.Data))
		}
	}
	return out
}

func forEachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			if b == "kinesalite" && testing.Short() {
				t.Skip("kinesalite: skipped in -short")
			}
			f(t, b)
		})
	}
}
