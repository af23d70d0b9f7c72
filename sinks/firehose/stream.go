package firehose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/sinks/dest"
)

// Destination is where objects go (see package dest).
type Destination = dest.Destination

// ObjectMeta is the metadata written with each object.
type ObjectMeta = dest.ObjectMeta

// Flush reasons, recorded in every object's metadata and in metrics.
const (
	ReasonSize     = "size"     // the partition reached BufferSize
	ReasonInterval = "interval" // BufferInterval elapsed since its first record
	ReasonShutdown = "shutdown" // Close
	ReasonManual   = "manual"   // Flush, the "flush now" hook
	// ReasonPartitionCap is reserved for flushing the oldest partition when
	// MaxActivePartitions is reached; Sluice follows Firehose instead and
	// sends such records to the error output (activePartitionExceeded).
	ReasonPartitionCap = "partition_cap"
)

const (
	defaultSegmentSize = 64 << 20
	defaultConcurrency = 4
	// jqBudget bounds the MetadataExtractionQuery time for one batch; a
	// query that loops forever fails its records instead of the pipeline.
	jqBudget = 30 * time.Second
)

// Options are the runtime settings of a delivery stream (as opposed to its
// AWS-shaped Config).
type Options struct {
	// StateDir holds the stream's write-ahead log, in StateDir/<Name>/wal.
	StateDir string
	// Destination receives the objects.
	Destination Destination
	// MaxBufferInterval, if positive, caps BufferInterval (for local runs:
	// `sluice up --max-buffer-interval`).
	MaxBufferInterval time.Duration
	// Clock is the source of time: buffer ages, retry times, and the
	// timers of the background scheduler; default the wall clock. With a
	// fake clock the scheduler flushes and retries when the clock is
	// advanced.
	Clock clock.Clock
	// Now, when set and Clock is not, tells the time instead of the wall
	// clock while the scheduler's timers stay on the wall clock (the
	// option from before Clock, kept for the callers that set it).
	Now func() time.Time
	// Logger receives delivery errors; default slog.Default().
	Logger *slog.Logger
	// SegmentSize caps a write-ahead-log segment (default 64 MiB).
	SegmentSize int64
	// FlushConcurrency bounds objects written at once in the background
	// (default 4).
	FlushConcurrency int
	// MaxLogBytes caps the write-ahead log on disk (0: no cap). While the
	// destination is down the log holds everything accepted; at the cap
	// Accept refuses batches with ErrLogFull, pushing back on the source
	// (whose retention then holds the data) instead of filling the disk.
	MaxLogBytes int64
	// Transform, when set, is the data-transformation function (the Lambda
	// processor) every accepted record goes through first.
	Transform Transform
	// TransformRetries is NumberOfRetries for the function (default 3;
	// negative: no retries).
	TransformRetries int
}

// ErrLogFull is wrapped by Accept when the write-ahead log has reached
// Options.MaxLogBytes; retry once objects are delivered again.
var ErrLogFull = errors.New("write-ahead log is full: the destination is behind")

// DeliveryStream is a Firehose-style delivery stream with S3 destination
// semantics. It implements handover.Acceptor.
//
// Its state is split by job, each part with its own lock: the router
// (routing, no shared state but a memo), the buffer set (buffers and
// active partitions), the object queue (pending objects and retries), the
// journal (the write-ahead log's sequence, checkpoints and segments) and
// the small-file alarm. The buffer set's lock is the only one held while
// another is taken (the journal's to log a flush intent, the object
// queue's to queue it); every other lock is a leaf.
type DeliveryStream struct {
	cc   *compiled
	opts Options
	clk  clock.Clock
	log  *slog.Logger
	m    *metrics

	router  *router
	buffers *bufferSet
	queue   *objectQueue
	journal *journal
	alarm   *smallFileAlarm

	kick   chan struct{} // wakes the scheduler
	sem    chan struct{} // background writes in flight
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ handover.Acceptor = (*DeliveryStream)(nil)

// Open validates cfg, recovers the stream's state from its write-ahead log
// (re-executing flushes that were decided but not confirmed, and putting
// every other accepted record back into its buffer) and starts the
// background scheduler.
func Open(cfg Config, opts Options) (*DeliveryStream, error) {
	cc, err := cfg.compile()
	if err != nil {
		return nil, fmt.Errorf("open delivery stream %q: %w", cfg.Name, err)
	}
	if opts.StateDir == "" || opts.Destination == nil {
		return nil, fmt.Errorf("open delivery stream %q: state directory and destination are required", cfg.Name)
	}
	clk := clock.Or(opts.Clock)
	if opts.Clock == nil && opts.Now != nil {
		clk = clock.WithNow(clk, opts.Now)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = defaultSegmentSize
	}
	if opts.FlushConcurrency <= 0 {
		opts.FlushConcurrency = defaultConcurrency
	}
	interval := cc.cfg.BufferInterval
	if opts.MaxBufferInterval > 0 && interval > opts.MaxBufferInterval {
		interval = opts.MaxBufferInterval
	}
	log := opts.Logger.With("delivery_stream", cc.cfg.Name)
	m := newMetrics(cc.cfg.Name)
	d := &DeliveryStream{
		cc:      cc,
		opts:    opts,
		clk:     clk,
		log:     log,
		m:       m,
		router:  newRouter(cc),
		buffers: newBufferSet(cc.cfg, interval, m),
		queue:   newObjectQueue(m),
		journal: newJournal(opts.SegmentSize, opts.MaxLogBytes),
		alarm:   newSmallFileAlarm(cc.cfg.BufferSize, log, m),
		kick:    make(chan struct{}, 1),
		sem:     make(chan struct{}, opts.FlushConcurrency),
	}
	d.m.watch(cc.cfg.Name, d)
	dir := filepath.Join(opts.StateDir, cc.cfg.Name, "wal")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open delivery stream %q: create state directory: %w", cc.cfg.Name, err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, fmt.Errorf("open delivery stream %q: %w", cc.cfg.Name, err)
	}
	if err := d.recover(dir, segs); err != nil {
		return nil, fmt.Errorf("open delivery stream %q: recover: %w", cc.cfg.Name, err)
	}
	jn := d.journal
	jn.w, err = openWAL(dir, segs, opts.SegmentSize, jn.headPayload)
	if err != nil {
		return nil, fmt.Errorf("open delivery stream %q: %w", cc.cfg.Name, err)
	}
	jn.segs = append(segs, jn.w.active())
	// The new segment's head carries the recovered checkpoints; it must be
	// durable before gc may delete the segments they were recovered from.
	jn.lastLSN = jn.w.appended()
	if err := jn.sync(jn.lastLSN); err != nil {
		jn.w.close()
		return nil, fmt.Errorf("open delivery stream %q: %w", cc.cfg.Name, err)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.buffers.gaugesLocked()
	d.queue.gaugesLocked()
	if err := jn.gc(); err != nil {
		d.log.Warn("reclaiming write-ahead log space failed", "err", err)
	}
	d.wg.Add(1)
	go d.schedule()
	d.dispatch()
	return d, nil
}

// Collectors returns the stream's Prometheus collectors, for the caller to
// register.
func (d *DeliveryStream) Collectors() []prometheus.Collector { return d.m.collectors() }

// Config returns the stream's configuration with Firehose's defaults
// applied (what DescribeDeliveryStream shows).
func (d *DeliveryStream) Config() Config { return d.cc.cfg }

// Checkpoint returns the last Source.Checkpoint durably accepted for id.
func (d *DeliveryStream) Checkpoint(id string) string { return d.journal.checkpoint(id) }

// Accept appends the batch (records, their routes and the source
// checkpoint) to the write-ahead log and returns after an fsync covers it.
// Records become objects later, when their partition flushes. An error
// means the batch was not taken; after a storage error the stream refuses
// everything until it is reopened.
func (d *DeliveryStream) Accept(ctx context.Context, b handover.Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("accept batch from %q: %w", b.Source.ID, err)
	}
	if len(b.Records) == 0 && b.Source.Checkpoint == "" {
		return nil
	}
	// De-aggregation comes first (docs/semantics.md, "Firehose processing
	// order"); sub-records are what is logged.
	b.Records = d.deaggregate(b.Records)
	var pre []*route
	if d.opts.Transform != nil {
		b.Records, pre = d.transform(ctx, b.Records)
		if len(b.Records) == 0 && b.Source.Checkpoint == "" {
			return nil // everything was Dropped
		}
	}
	routes := d.router.route(b.Records)
	for i, rt := range pre {
		if rt != nil {
			routes[i] = rt
		}
	}
	now := d.clk.Now()
	pos, lsn, newBuf, err := d.logBatch(b, routes, now)
	if err != nil {
		return fmt.Errorf("accept batch from %q: %w", b.Source.ID, err)
	}
	if err := d.journal.sync(lsn); err != nil {
		return fmt.Errorf("accept batch from %q: %w", b.Source.ID, err)
	}
	if b.Source.Checkpoint != "" {
		d.journal.confirm(b.Source.ID, b.Source.Checkpoint, pos.lsn)
	}
	var nbytes int64
	for _, r := range b.Records {
		nbytes += int64(len(r.Data))
	}
	d.m.recordsAccepted.Add(float64(len(b.Records)))
	d.m.bytesAccepted.Add(float64(nbytes))
	d.dispatch()
	if newBuf {
		// A new buffer has an age to watch. Not only a new partition: a
		// partition whose previous object is still being written starts a
		// new buffer too, and the scheduler, which computed its next
		// deadline when no buffer existed, would otherwise sleep until
		// something else woke it (an hour when nothing did).
		d.wake()
	}
	return nil
}

// logBatch appends a routed batch to the write-ahead log (not yet synced)
// and puts its records in their buffers, flushing those that reach
// BufferSize. It returns the batch's position, the lsn a sync must reach
// to cover the batch and the flushes, and whether a buffer was started.
func (d *DeliveryStream) logBatch(b handover.Batch, routes []*route, now time.Time) (walPos, uint64, bool, error) {
	s := d.buffers
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return walPos{}, 0, false, fmt.Errorf("delivery stream %q is closed", d.cc.cfg.Name)
	}
	s.capPartitionsLocked(routes)
	pos, firstSeq, dataOff, table, err := d.journal.appendBatch(now, b, routes)
	if err != nil {
		return walPos{}, 0, false, err
	}
	for _, rt := range table {
		rt.endedMs = now.UnixMilli()
	}
	newBuf := false
	for i, r := range b.Records {
		rf := ref{seg: pos.seg, off: pos.off + int64(dataOff[i]), n: uint32(len(r.Data)), seq: firstSeq + uint64(i),
			arrival: r.ArrivalTime.UnixNano(), accepted: now.UnixNano(), rt: routes[i]}
		if s.addLocked(rf, now) {
			newBuf = true
		}
		if routes[i].ErrType != "" {
			d.m.recordsFailed.WithLabelValues(routes[i].ErrType).Inc()
		}
	}
	lsn := pos.lsn
	for _, rt := range table {
		if s.fullLocked(rt.part) {
			if l, err := d.detachLocked(rt.part, ReasonSize); err == nil {
				lsn = l
			} // else the WAL is poisoned and the sync reports it
		}
	}
	s.gaugesLocked()
	return pos, lsn, newBuf, nil
}

// Close refuses further batches, flushes every partition (reason
// "shutdown"), waits for the objects and closes the log. Records that
// could not be delivered stay in the log for the next Open.
func (d *DeliveryStream) Close(ctx context.Context) error {
	s := d.buffers
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	ferr := d.flush(ctx, ReasonShutdown, func(*buffer) bool { return true })
	d.cancel()
	d.wg.Wait()
	if err := d.journal.gc(); err != nil && ferr == nil {
		ferr = err
	}
	if err := d.journal.close(); err != nil && ferr == nil {
		ferr = err
	}
	if ferr != nil {
		return fmt.Errorf("close delivery stream %q: %w", d.cc.cfg.Name, ferr)
	}
	return nil
}

// abandon stops the stream the way a crash would: nothing buffered in the
// log's writer reaches the disk, no further entry is written, background
// writes stop. Tests reopen the state directory afterwards.
func (d *DeliveryStream) abandon() {
	s := d.buffers
	s.mu.Lock()
	s.closed = true
	d.journal.abandon()
	s.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}
