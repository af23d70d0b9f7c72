package kinesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/sinks"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
)

// Config is one event-source mapping, as the template declares it.
type Config struct {
	// ID is the mapping's UUID; checkpoints are kept per (ID, shard), so it
	// must be stable across restarts.
	ID           string
	FunctionName string
	StreamName   string
	StreamARN    string
	Region       string
	// InvokeIdentityARN is reported in every record (the function's role).
	InvokeIdentityARN string

	BatchSize                 int           // 1–10,000; default 100
	MaximumBatchingWindow     time.Duration // 0–300 s
	StartingPosition          string        // TRIM_HORIZON | LATEST | AT_TIMESTAMP
	StartingPositionTimestamp *time.Time
}

func (c *Config) setDefaults() error {
	if c.ID == "" || c.StreamName == "" {
		return errors.New("mapping needs an ID and a stream name")
	}
	if c.BatchSize == 0 {
		c.BatchSize = 100
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		return fmt.Errorf("BatchSize %d is outside 1–10000", c.BatchSize)
	}
	if c.MaximumBatchingWindow < 0 || c.MaximumBatchingWindow > 300*time.Second {
		return fmt.Errorf("MaximumBatchingWindowInSeconds %s is outside 0–300 s", c.MaximumBatchingWindow)
	}
	switch c.StartingPosition {
	case "TRIM_HORIZON", "LATEST":
	case "AT_TIMESTAMP":
		if c.StartingPositionTimestamp == nil {
			return errors.New("StartingPosition AT_TIMESTAMP needs StartingPositionTimestamp")
		}
	default:
		return fmt.Errorf("StartingPosition %q is not TRIM_HORIZON, LATEST or AT_TIMESTAMP", c.StartingPosition)
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.StreamARN == "" {
		c.StreamARN = "arn:aws:kinesis:" + c.Region + ":000000000000:stream/" + c.StreamName
	}
	if c.InvokeIdentityARN == "" {
		c.InvokeIdentityARN = "arn:aws:iam::000000000000:role/" + c.FunctionName + "-role"
	}
	return nil
}

// Options tune how a mapping runs; the zero value is usable.
type Options struct {
	Logger  *slog.Logger
	Metrics *Metrics
	// PollInterval is how long a caught-up shard waits before polling again
	// when the reader cannot notify (real Kinesis: Lambda polls each shard
	// about once per second). Default 1 s.
	PollInterval time.Duration
	// DiscoveryInterval is how often the shard list is refreshed to pick up
	// new shards. Default 10 s.
	DiscoveryInterval time.Duration
	// DrainTimeout bounds how long an in-flight batch may take to finish
	// (invoke, accept, checkpoint) once Run's context is cancelled.
	DrainTimeout time.Duration
}

// Mapping polls one stream and invokes one function.
type Mapping struct {
	cfg   Config
	opts  Options
	log   *slog.Logger
	read  Reader
	fn    runtime.Invoker
	sink  sinks.Acceptor
	store checkpoint.Store
	m     *Metrics

	mu       sync.Mutex
	running  map[string]bool // shard → worker running
	finished map[string]bool // shard → read to its end
	wake     chan struct{}   // a shard ended: rediscover now
}

// New creates a mapping. sink may be nil: the function's output records are
// then discarded, as on AWS when a function has no delivery stream.
func New(cfg Config, r Reader, fn runtime.Invoker, sink sinks.Acceptor, store checkpoint.Store, opts Options) (*Mapping, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("mapping %s: %w", cfg.ID, err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.DiscoveryInterval <= 0 {
		opts.DiscoveryInterval = 10 * time.Second
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 8 * time.Second
	}
	return &Mapping{
		cfg: cfg, opts: opts, read: r, fn: fn, sink: sink, store: store, m: opts.Metrics,
		log:      opts.Logger.With("mapping", cfg.ID, "function", cfg.FunctionName, "stream", cfg.StreamName),
		running:  map[string]bool{},
		finished: map[string]bool{},
		wake:     make(chan struct{}, 1),
	}, nil
}

// Config returns the mapping's configuration with defaults applied.
func (m *Mapping) Config() Config { return m.cfg }

// Run reads every shard until ctx is cancelled, then lets in-flight batches
// finish (invoke, hand to the sink, checkpoint) and returns.
func (m *Mapping) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ticker := time.NewTicker(m.opts.DiscoveryInterval)
	defer ticker.Stop()
	for {
		shards, err := m.listShards(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.Warn("listing shards", "err", err)
		}
		for _, s := range m.startable(ctx, shards) {
			wg.Add(1)
			go func(s types.Shard) {
				defer wg.Done()
				m.runShard(ctx, s)
			}(s)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-m.wake:
		}
	}
}

func (m *Mapping) listShards(ctx context.Context) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(m.cfg.StreamName)}
	for {
		out, err := m.read.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("stream %s: list shards: %w", m.cfg.StreamName, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			return shards, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// startable returns the shards to start now: not running, not finished, and
// whose parents are finished — a child is read only after its parents, which
// keeps per-key order across a reshard.
func (m *Mapping) startable(ctx context.Context, shards []types.Shard) []types.Shard {
	known := map[string]bool{}
	for _, s := range shards {
		known[aws.ToString(s.ShardId)] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	parentDone := func(id *string) bool {
		if id == nil || !known[*id] {
			return true // no parent, or it expired out of the stream
		}
		if m.finished[*id] {
			return true
		}
		pos, err := m.store.Get(ctx, m.cfg.ID, *id)
		if err == nil && pos.ShardEnd {
			m.finished[*id] = true
			return true
		}
		return false
	}
	var out []types.Shard
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if m.running[id] || m.finished[id] {
			continue
		}
		if !parentDone(s.ParentShardId) || !parentDone(s.AdjacentParentShardId) {
			continue
		}
		m.running[id] = true
		out = append(out, s)
	}
	return out
}

func (m *Mapping) shardDone(id string, ended bool) {
	m.mu.Lock()
	delete(m.running, id)
	if ended {
		m.finished[id] = true
	}
	m.mu.Unlock()
	if ended {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

// batchEvent builds the Lambda event for records read from shardID.
func (m *Mapping) batchEvent(shardID string, recs []types.Record) events.KinesisEvent {
	ev := events.KinesisEvent{Records: make([]events.KinesisEventRecord, len(recs))}
	for i, r := range recs {
		seq := aws.ToString(r.SequenceNumber)
		ev.Records[i] = events.KinesisEventRecord{
			AwsRegion:         m.cfg.Region,
			EventID:           shardID + ":" + seq,
			EventName:         "aws:kinesis:record",
			EventSource:       "aws:kinesis",
			EventSourceArn:    m.cfg.StreamARN,
			EventVersion:      "1.0",
			InvokeIdentityArn: m.cfg.InvokeIdentityARN,
			Kinesis: events.KinesisRecord{
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: aws.ToTime(r.ApproximateArrivalTimestamp)},
				Data:                        r.Data,
				PartitionKey:                aws.ToString(r.PartitionKey),
				SequenceNumber:              seq,
				KinesisSchemaVersion:        "1.0",
			},
		}
	}
	return ev
}

// outputRecords turns a function response into sink records. When the
// function returned one record per input record, each output keeps its
// input's arrival time; otherwise all take the batch's oldest.
func outputRecords(resp *sdk.StreamResponse, in []types.Record) []sinks.Record {
	out := make([]sinks.Record, len(resp.Records))
	oldest := aws.ToTime(in[0].ApproximateArrivalTimestamp)
	for i, r := range resp.Records {
		at := oldest
		if len(resp.Records) == len(in) {
			at = aws.ToTime(in[i].ApproximateArrivalTimestamp)
		}
		out[i] = sinks.Record{Data: r.Data, PartitionKeys: r.PartitionKeys, ArrivalTime: at}
	}
	return out
}

func decodeResponse(body []byte) (*sdk.StreamResponse, error) {
	var resp sdk.StreamResponse
	if len(body) == 0 || string(body) == "null" {
		return &resp, nil
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		// A handler may return anything (Lambda ignores the body unless
		// ReportBatchItemFailures is on); only a StreamResponse carries
		// output records.
		return &sdk.StreamResponse{}, nil
	}
	return &resp, nil
}
