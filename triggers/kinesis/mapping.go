package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
	"github.com/sluice-dev/sluice/triggers/filter"
	"github.com/sluice-dev/sluice/triggers/kinesis/esmparam"
)

// Config is one event-source mapping, as the template declares it. The
// ranges and defaults of its parameters are esmparam's, the table the
// template validates with too; a zero field takes the default, and a
// duration is checked in whole seconds (rounded away from zero), so
// sub-second values are for tests.
type Config struct {
	// ID is the mapping's UUID; checkpoints are kept per (ID, shard), so it
	// must be stable across restarts.
	ID           string
	FunctionName string
	StreamName   string
	StreamARN    string
	Region       string
	// ConsumerARN, when set, reads the stream through this enhanced
	// fan-out consumer (SubscribeToShard), as Lambda does when a mapping's
	// event source is a consumer ARN; Options.Subscriber (or the Reader,
	// when it can subscribe) serves it.
	ConsumerARN string
	// InvokeIdentityARN is reported in every record (the function's role).
	InvokeIdentityARN string

	// FunctionARN is reported in failure records; derived from
	// FunctionName and Region when empty.
	FunctionARN string

	BatchSize                 int           // esmparam.BatchSize
	MaximumBatchingWindow     time.Duration // esmparam.MaximumBatchingWindowInSeconds
	StartingPosition          string        // esmparam.StartingPosition
	StartingPositionTimestamp *time.Time

	// Failure handling (docs/semantics.md, "ESM invocation outcomes" to "ESM
	// bisect on error").

	// BisectBatchOnFunctionError halves a batch on a function error
	// without spending a retry (docs/semantics.md, "ESM bisect on error").
	BisectBatchOnFunctionError bool
	// MaximumRetryAttempts (esmparam.MaximumRetryAttempts) is -1 to retry
	// forever, the default when RetryAttemptsSet is false; else a batch is
	// invoked at most N+1 times (docs/semantics.md, "ESM retries and record
	// age").
	MaximumRetryAttempts int
	// RetryAttemptsSet distinguishes an explicit MaximumRetryAttempts 0
	// from the zero value (which means the AWS default, -1).
	RetryAttemptsSet bool
	// MaximumRecordAge (esmparam.MaximumRecordAgeInSeconds): older records
	// are discarded before each invocation. Zero (the default), -1 s and the
	// plan's -1 ns mean no limit.
	MaximumRecordAge time.Duration
	// ReportBatchItemFailures enables partial-batch responses
	// (docs/semantics.md, "ESM partial batch responses").
	ReportBatchItemFailures bool
	// OnFailureBucket is the S3 bucket failure records go to
	// (docs/semantics.md, "ESM on-failure destination"); empty means discarded
	// records are skipped silently, as on AWS.
	OnFailureBucket string
	// ParallelizationFactor (esmparam.ParallelizationFactor) is the number
	// of concurrent key lanes per shard (docs/semantics.md, "ESM
	// parallelization factor").
	ParallelizationFactor int
	// FilterPatterns are FilterCriteria patterns (docs/semantics.md, "ESM
	// event filtering"), ORed.
	FilterPatterns []string
	// TumblingWindow (esmparam.TumblingWindowInSeconds) is 0 for none
	// (docs/semantics.md, "ESM tumbling windows").
	TumblingWindow time.Duration
}

func (c *Config) setDefaults() error {
	if c.ID == "" || c.StreamName == "" {
		return errors.New("mapping needs an ID and a stream name")
	}
	if err := esmparam.StartingPosition.Check(c.StartingPosition); err != nil {
		return fmt.Errorf("%s: %w", esmparam.StartingPosition.Name, err)
	}
	if c.StartingPosition == "AT_TIMESTAMP" && c.StartingPositionTimestamp == nil {
		return errors.New("StartingPosition AT_TIMESTAMP needs StartingPositionTimestamp")
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	for _, f := range c.intFields() {
		if err := f.defaultAndCheck(); err != nil {
			return err
		}
	}
	if c.TumblingWindow > 0 && c.ParallelizationFactor > 1 {
		// One window state per shard; AWS's behaviour with lanes is
		// undocumented, so the combination is refused.
		return errors.New("TumblingWindowInSeconds needs ParallelizationFactor 1 (one window state per shard)")
	}
	if c.FunctionARN == "" {
		c.FunctionARN = "arn:aws:lambda:" + c.Region + ":000000000000:function:" + c.FunctionName
	}
	if c.StreamARN == "" {
		c.StreamARN = "arn:aws:kinesis:" + c.Region + ":000000000000:stream/" + c.StreamName
	}
	if c.InvokeIdentityARN == "" {
		c.InvokeIdentityARN = "arn:aws:iam::000000000000:role/" + c.FunctionName + "-role"
	}
	return nil
}

// intField binds an integer parameter of esmparam's table to the Config
// field holding it: a count, or a duration for the …InSeconds ones.
type intField struct {
	param esmparam.Int
	count *int
	dur   *time.Duration
	// zeroIsSet says a zero was given on purpose and is not to be replaced
	// by the default (RetryAttemptsSet).
	zeroIsSet bool
}

// intFields lists every integer parameter of the mapping with its field.
func (c *Config) intFields() []intField {
	return []intField{
		{param: esmparam.BatchSize, count: &c.BatchSize},
		{param: esmparam.MaximumBatchingWindowInSeconds, dur: &c.MaximumBatchingWindow},
		{param: esmparam.ParallelizationFactor, count: &c.ParallelizationFactor},
		{param: esmparam.MaximumRetryAttempts, count: &c.MaximumRetryAttempts, zeroIsSet: c.RetryAttemptsSet},
		{param: esmparam.MaximumRecordAgeInSeconds, dur: &c.MaximumRecordAge},
		{param: esmparam.TumblingWindowInSeconds, dur: &c.TumblingWindow},
	}
}

// defaultAndCheck gives a zero field the parameter's default, as an absent
// property gets in the template, then checks the value against the table.
func (f intField) defaultAndCheck() error {
	var err error
	if f.count != nil {
		if *f.count == 0 && !f.zeroIsSet {
			*f.count = f.param.Default
		}
		err = f.param.Check(*f.count)
	} else {
		if *f.dur == 0 && !f.zeroIsSet {
			*f.dur = f.param.Duration(f.param.Default)
		}
		err = f.param.CheckDuration(*f.dur)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.param.Name, err)
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
	// CheckpointInterval is the least time between two checkpoint writes
	// of one shard to the store (each costs the store's fsync); the latest
	// checkpoint is written when it is up, and at once when the shard ends
	// or the mapping stops. Default 50 ms; negative writes after every
	// batch.
	CheckpointInterval time.Duration
	// DrainTimeout bounds how long an in-flight batch may take to finish
	// (invoke, accept, checkpoint) once Run's context is cancelled.
	DrainTimeout time.Duration
	// RetryBaseDelay and RetryMaxDelay shape the back-off between retries of a
	// failed batch: exponential from the base, capped. Defaults 1 s and 60 s;
	// tests make them tiny.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// OnFailure is the object store failure records are written to, in
	// Config.OnFailureBucket.
	OnFailure FailureDestination
	// Clock is the source of time: poll, discovery and checkpoint pacing,
	// batching windows, back-off and drain deadlines, and (unless Now is
	// set) record ages, tumbling windows and failure-record times. nil is the
	// wall clock; a test passes a clock.Fake.
	Clock clock.Clock
	// Now, when set, tells the time for record ages, tumbling windows and
	// failure-record times instead of Clock.Now; timers still run on Clock.
	// New code sets Clock instead.
	Now func() time.Time
	// Owner names this instance when it claims shards in the checkpoint
	// store (default host:pid).
	Owner string
	// Subscriber serves SubscribeToShard for a mapping with a ConsumerARN;
	// when nil, the Reader is used if it implements Subscriber (as
	// *kinesis.Client does).
	Subscriber Subscriber
}

// Mapping polls one stream and invokes one function.
type Mapping struct {
	cfg   Config
	opts  Options
	log   *slog.Logger
	read  Reader
	fn    runtime.Invoker
	sink  handover.Acceptor
	store checkpoint.Store
	m     *Metrics
	keep  func(types.Record) bool // FilterCriteria; nil keeps everything

	overheadOnce sync.Once
	overhead     int // see recordOverhead

	mu       sync.Mutex
	running  map[string]bool // shard → worker running
	finished map[string]bool // shard → read to its end
	wake     chan struct{}   // a shard ended: rediscover now

	// positioned is closed once every shard of the first successful
	// discovery has a read position (see Positioned); positioning counts
	// the shards of that discovery still without one.
	positioned     chan struct{}
	positioning    sync.WaitGroup
	positionedOnce sync.Once
}

// New creates a mapping. sink may be nil: the function's output records are
// then discarded, as on AWS when a function has no delivery stream.
func New(cfg Config, r Reader, fn runtime.Invoker, sink handover.Acceptor, store checkpoint.Store, opts Options) (*Mapping, error) {
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
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = 50 * time.Millisecond
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 8 * time.Second
	}
	if opts.RetryBaseDelay <= 0 {
		opts.RetryBaseDelay = time.Second
	}
	if opts.RetryMaxDelay <= 0 {
		opts.RetryMaxDelay = 60 * time.Second
	}
	opts.Clock = clock.Or(opts.Clock)
	if opts.Now == nil {
		opts.Now = opts.Clock.Now
	}
	if opts.Owner == "" {
		host, _ := os.Hostname()
		opts.Owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if cfg.ConsumerARN != "" {
		sub := opts.Subscriber
		if sub == nil {
			sub, _ = r.(Subscriber)
		}
		if sub == nil {
			return nil, fmt.Errorf("mapping %s: consumer %s: the reader cannot subscribe to shards (enhanced fan-out)", cfg.ID, cfg.ConsumerARN)
		}
		r = newFanOutReader(r, sub, cfg.ConsumerARN, opts.Logger.With("mapping", cfg.ID, "consumer", cfg.ConsumerARN), opts.Clock)
	}
	var keep func(types.Record) bool
	if len(cfg.FilterPatterns) > 0 {
		f, err := filter.Compile(cfg.FilterPatterns)
		if err != nil {
			return nil, fmt.Errorf("mapping %s: FilterCriteria: %w", cfg.ID, err)
		}
		keep = func(r types.Record) bool {
			return f.Match(filter.Record{
				Data:                        r.Data,
				PartitionKey:                aws.ToString(r.PartitionKey),
				SequenceNumber:              aws.ToString(r.SequenceNumber),
				ApproximateArrivalTimestamp: aws.ToTime(r.ApproximateArrivalTimestamp),
			})
		}
	}
	return &Mapping{
		cfg: cfg, opts: opts, read: r, fn: fn, sink: sink, store: store, m: opts.Metrics, keep: keep,
		log:        opts.Logger.With("mapping", cfg.ID, "function", cfg.FunctionName, "stream", cfg.StreamName),
		running:    map[string]bool{},
		finished:   map[string]bool{},
		wake:       make(chan struct{}, 1),
		positioned: make(chan struct{}),
	}, nil
}

// Positioned is closed once every shard the mapping found at its first
// successful shard listing has a read position: an iterator at its
// checkpoint or StartingPosition, or the knowledge that it has ended. A
// record put to the stream after that is delivered even with
// StartingPosition LATEST, which is what `sluice up` promises when it
// prints its ready line. Child shards found later start at TRIM_HORIZON,
// so they need no such wait.
func (m *Mapping) Positioned() <-chan struct{} { return m.positioned }

// Config returns the mapping's configuration with defaults applied.
func (m *Mapping) Config() Config { return m.cfg }

// Run reads every shard until ctx is cancelled, then lets in-flight batches
// finish (invoke, hand to the sink, checkpoint) and returns.
func (m *Mapping) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ticker := m.opts.Clock.NewTicker(m.opts.DiscoveryInterval)
	defer ticker.Stop()
	for {
		shards, err := m.listShards(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.Warn("listing shards", "err", err)
		}
		start := m.startable(ctx, shards)
		first := false
		if err == nil {
			m.positionedOnce.Do(func() {
				first = true
				m.positioning.Add(len(start))
			})
		}
		for _, s := range start {
			wg.Add(1)
			go func(s types.Shard, first bool) {
				defer wg.Done()
				m.runShard(ctx, s, first)
			}(s, first)
		}
		if first {
			go func() {
				m.positioning.Wait()
				close(m.positioned)
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.Chan():
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

// batchEvent builds the Lambda event for records read from shardID. Every
// record's eventID ("shardId:sequenceNumber") is cut from one string built
// for the whole batch: one allocation instead of one per record.
func (m *Mapping) batchEvent(shardID string, recs []types.Record) events.KinesisEvent {
	ev := events.KinesisEvent{Records: make([]events.KinesisEventRecord, len(recs))}
	size := 0
	for i := range recs {
		size += len(shardID) + 1 + len(aws.ToString(recs[i].SequenceNumber))
	}
	buf := make([]byte, 0, size)
	for i := range recs {
		buf = append(buf, shardID...)
		buf = append(buf, ':')
		buf = append(buf, aws.ToString(recs[i].SequenceNumber)...)
	}
	ids := unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is not touched again
	off := 0
	for i := range recs {
		r := &recs[i]
		seq := aws.ToString(r.SequenceNumber)
		n := len(shardID) + 1 + len(seq)
		ev.Records[i] = events.KinesisEventRecord{
			AwsRegion:         m.cfg.Region,
			EventID:           ids[off : off+n],
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
		off += n
	}
	return ev
}

// outputRecords turns a function's output into sink records. When the
// function returned one record per input record, each output keeps its
// input's arrival time; otherwise all take the batch's oldest.
func outputRecords(recs []sdk.OutputRecord, in []types.Record) []handover.Record {
	if len(recs) == 0 {
		return nil
	}
	out := make([]handover.Record, len(recs))
	var oldest time.Time // no input (a window's final invoke): the caller sets it
	if len(in) > 0 {
		oldest = aws.ToTime(in[0].ApproximateArrivalTimestamp)
	}
	for i, r := range recs {
		at := oldest
		if len(recs) == len(in) {
			at = aws.ToTime(in[i].ApproximateArrivalTimestamp)
		}
		out[i] = handover.Record{Data: r.Data, PartitionKeys: r.PartitionKeys, ArrivalTime: at}
	}
	return out
}
