package firehose

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fastjson"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/sinks/dest"
	"github.com/sluice-dev/sluice/sinks/firehose/convert"
	"github.com/sluice-dev/sluice/sinks/firehose/internal/fastparse"
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
	jqBudget    = 30 * time.Second
	maxRetryGap = 30 * time.Second
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
	// Now is the clock; default time.Now. Buffer ages and retry times use
	// it; the background scheduler only uses real time to decide when to
	// look again.
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

// smallFileStreak is how many consecutive small interval flushes of one
// partition raise the small-file alarm.
const smallFileStreak = 3

// route is where a record goes: a partition of the data prefix (its keys)
// or the error output (its error). Routes are decided once, at Accept, and
// stored in the write-ahead log, so that replay never re-runs the query
// (which may use `now`) or re-counts active partitions.
type route struct {
	Q  map[string]string `json:"q,omitempty"`
	L  map[string]string `json:"l,omitempty"`
	ET string            `json:"et,omitempty"` // error output type
	EC string            `json:"ec,omitempty"` // error code
	EM string            `json:"em,omitempty"` // error message

	part    string // partition id, derived
	endedMs int64  // accept time of the batch: the envelope's attemptEndingTimestamp
}

// partID names the buffer a route feeds: one per distinct set of key
// values, one per error output type.
func (r *route) partID() string {
	if r.ET != "" {
		return "error:" + r.ET
	}
	b, _ := json.Marshal(struct {
		Q map[string]string `json:"q,omitempty"`
		L map[string]string `json:"l,omitempty"`
	}{r.Q, r.L}) // map keys are sorted: canonical
	return "data:" + string(b)
}

// ref is a buffered record: where its bytes are in the write-ahead log.
// Buffers hold refs, not bytes, so memory per partition is ~56 bytes per
// record whatever the record size; bytes are read back at flush.
type ref struct {
	seg      uint64
	off      int64
	n        uint32
	seq      uint64
	arrival  int64 // unix nanoseconds
	accepted int64 // unix nanoseconds
	rt       *route
}

type buffer struct {
	part    string
	rt      *route
	refs    []ref
	bytes   int64
	firstAt time.Time
}

// intentRec is the write-ahead-log record of a flush: the records of part
// with sequence numbers lo..hi (n of them) become object key.
type intentRec struct {
	Key    string `json:"key"`
	Part   string `json:"part"`
	Lo     uint64 `json:"lo"`
	Hi     uint64 `json:"hi"`
	N      int    `json:"n"`
	Bytes  int64  `json:"bytes"`
	Reason string `json:"reason"`
	// At is when the flush was decided (unix milliseconds), for the age
	// of pending objects; 0 in logs written before it existed.
	At int64 `json:"at,omitempty"`
	// Replaces and Fail are set on a reroute (see failure.go): this
	// object carries the records of object Replaces, which the
	// destination refused for good, to the error output.
	Replaces string   `json:"replaces,omitempty"`
	Fail     *failRec `json:"fail,omitempty"`
}

type job struct {
	intentRec
	rt       *route
	refs     []ref
	pos      walPos
	claimed  bool
	retryAt  time.Time
	attempts int
	since    time.Time // when the flush was decided
	lastErr  string    // the last failed attempt's error
	failedAt time.Time // and when it failed
}

type headRec struct {
	Next        uint64            `json:"next"`
	Checkpoints map[string]string `json:"checkpoints"`
}

type cpState struct {
	cp  string
	lsn uint64
}

// DeliveryStream is a Firehose-style delivery stream with S3 destination
// semantics. It implements handover.Acceptor.
type DeliveryStream struct {
	cc       *compiled
	opts     Options
	log      *slog.Logger
	w        *wal
	interval time.Duration
	qkeys    []string
	lkeys    []string
	routes   routeMemo // data routes decided by earlier batches
	m        *metrics

	mu          sync.Mutex
	nextSeq     uint64
	buffers     map[string]*buffer
	active      map[string]int
	jobs        map[string]*job
	segs        []uint64 // segments on disk, ascending
	segLive     map[uint64]int
	lastLSN     uint64
	cps         map[string]cpState
	appendedCps map[string]string
	changed     chan struct{}
	closed      bool
	bufRecords  int
	bufBytes    int64
	smallStreak map[string]int // partition → consecutive small interval flushes
	alarmed     map[string]bool
	refused     int    // objects rerouted after a permanent failure
	lastRefusal string // the latest, described

	gcMu   sync.Mutex
	kick   chan struct{}
	sem    chan struct{}
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
	if opts.Now == nil {
		opts.Now = time.Now
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
	d := &DeliveryStream{
		cc:          cc,
		opts:        opts,
		log:         opts.Logger.With("delivery_stream", cc.cfg.Name),
		interval:    cc.cfg.BufferInterval,
		qkeys:       cc.prefix.keys(segQueryKey),
		lkeys:       cc.prefix.keys(segLambdaKey),
		m:           newMetrics(cc.cfg.Name),
		buffers:     map[string]*buffer{},
		active:      map[string]int{},
		jobs:        map[string]*job{},
		segLive:     map[uint64]int{},
		cps:         map[string]cpState{},
		appendedCps: map[string]string{},
		smallStreak: map[string]int{},
		alarmed:     map[string]bool{},
		changed:     make(chan struct{}),
		kick:        make(chan struct{}, 1),
		sem:         make(chan struct{}, opts.FlushConcurrency),
	}
	d.m.watch(cc.cfg.Name, d)
	if opts.MaxBufferInterval > 0 && d.interval > opts.MaxBufferInterval {
		d.interval = opts.MaxBufferInterval
	}
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
	d.w, err = openWAL(dir, segs, opts.SegmentSize, d.headPayload)
	if err != nil {
		return nil, fmt.Errorf("open delivery stream %q: %w", cc.cfg.Name, err)
	}
	d.segs = append(segs, d.w.active())
	// The new segment's head carries the recovered checkpoints; it must be
	// durable before gc may delete the segments they were recovered from.
	d.lastLSN = d.w.appended()
	if err := d.w.sync(d.lastLSN); err != nil {
		d.w.close()
		return nil, fmt.Errorf("open delivery stream %q: %w", cc.cfg.Name, err)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.updateGaugesLocked()
	if err := d.gc(); err != nil {
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

// headPayload is written at the start of every segment, so per-source
// checkpoints and the record sequence survive the deletion of the segments
// that first recorded them. Called with d.mu held (or before Open returns).
func (d *DeliveryStream) headPayload() []byte {
	b, _ := json.Marshal(headRec{Next: d.nextSeq, Checkpoints: d.appendedCps})
	return b
}

// Checkpoint returns the last Source.Checkpoint durably accepted for id.
func (d *DeliveryStream) Checkpoint(id string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cps[id].cp
}

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
	routes := d.route(b.Records)
	for i, rt := range pre {
		if rt != nil {
			routes[i] = rt
		}
	}
	now := d.opts.Now()

	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return fmt.Errorf("accept batch from %q: delivery stream %q is closed", b.Source.ID, d.cc.cfg.Name)
	}
	if max := d.opts.MaxLogBytes; max > 0 && int64(len(d.segs))*d.opts.SegmentSize >= max {
		d.mu.Unlock()
		return fmt.Errorf("accept batch from %q: %w (%d segments of %d bytes)", b.Source.ID, ErrLogFull, len(d.segs), d.opts.SegmentSize)
	}
	// Max active partitions (docs/semantics.md, "Dynamic partitioning"): a
	// record that would open a partition beyond the cap goes to the error
	// output instead.
	opened := map[string]bool{}
	var capRoute *route
	for i, rt := range routes {
		if rt.ET != "" || d.active[rt.part] > 0 || opened[rt.part] {
			continue
		}
		if len(d.active)+len(opened) >= d.cc.cfg.MaxActivePartitions {
			if capRoute == nil {
				capRoute = &route{ET: ErrTypeActivePartitionExceeded, EC: codeActivePartitions,
					EM: fmt.Sprintf("The number of active partitions exceeds the limit of %d", d.cc.cfg.MaxActivePartitions)}
				capRoute.part = capRoute.partID()
			}
			routes[i] = capRoute
			continue
		}
		opened[rt.part] = true
	}
	payload, dataOff, table := encodeBatch(d.nextSeq, now, b, routes)
	pos, err := d.w.append(entryBatch, payload)
	if err != nil {
		d.mu.Unlock()
		return fmt.Errorf("accept batch from %q: %w", b.Source.ID, err)
	}
	d.noteAppend(pos)
	for _, rt := range table {
		rt.endedMs = now.UnixMilli()
	}
	var nbytes int64
	newBuf := false
	for i, r := range b.Records {
		rf := ref{seg: pos.seg, off: pos.off + int64(dataOff[i]), n: uint32(len(r.Data)), seq: d.nextSeq,
			arrival: r.ArrivalTime.UnixNano(), accepted: now.UnixNano(), rt: routes[i]}
		d.nextSeq++
		if d.addLocked(rf, now) {
			newBuf = true
		}
		nbytes += int64(len(r.Data))
		if routes[i].ET != "" {
			d.m.recordsFailed.WithLabelValues(routes[i].ET).Inc()
		}
	}
	d.segLive[pos.seg] += len(b.Records)
	if b.Source.Checkpoint != "" {
		d.appendedCps[b.Source.ID] = b.Source.Checkpoint
	}
	lsn := pos.lsn
	for _, rt := range table {
		if buf := d.buffers[rt.part]; buf != nil && buf.bytes >= d.cc.cfg.BufferSize {
			if l, err := d.detachLocked(rt.part, ReasonSize); err == nil {
				lsn = l
			} // else the WAL is poisoned and the sync below reports it
		}
	}
	d.updateGaugesLocked()
	d.mu.Unlock()

	if err := d.w.sync(lsn); err != nil {
		return fmt.Errorf("accept batch from %q: %w", b.Source.ID, err)
	}
	if b.Source.Checkpoint != "" {
		d.mu.Lock()
		if cur := d.cps[b.Source.ID]; cur.lsn < pos.lsn {
			d.cps[b.Source.ID] = cpState{cp: b.Source.Checkpoint, lsn: pos.lsn}
		}
		d.mu.Unlock()
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

// route decides each record's route. It runs outside the lock: the JQ
// query is the expensive part of Accept and batches from different
// sources should not queue behind each other for it.
func (d *DeliveryStream) route(recs []handover.Record) []*route {
	out := make([]*route, len(recs))
	if !d.cc.cfg.DynamicPartitioning && d.cc.conv == nil {
		rt := &route{}
		rt.part = rt.partID()
		for i := range out {
			out[i] = rt
		}
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), jqBudget)
	defer cancel()
	p := fastparse.Pool.Get()
	defer fastparse.Pool.Put(p)
	parse := d.cc.conv != nil || (len(d.qkeys) > 0 && d.cc.query.fast != nil)
	var sc convert.Scratch
	rc := routeCache{m: map[string]*cachedRoute{}, subSecond: d.cc.prefix.subSecond()}
	seen := map[routeKey]*route{}
	for i, r := range recs {
		var v *fastjson.Value
		if parse {
			v = fastparse.Record(p, r.Data)
		}
		rt := d.routeOne(ctx, r, v, &sc, &rc)
		k := routeKey{rt.part, rt.EM}
		if prev, ok := seen[k]; ok {
			rt = prev
		} else {
			seen[k] = rt
		}
		out[i] = rt
	}
	return out
}

type routeKey struct{ part, em string }

// routeCache remembers, within one batch, the data route of each distinct
// tuple of partition key values, so that the records of a partition
// already seen skip building key maps, rendering the prefix (rule 6's
// length check) and naming the partition. The check depends on the
// arrival time too, so an entry holds for the second it was made in (the
// nanosecond when the prefix formats fractions of a second). Behind it,
// the stream's routeMemo carries routes from batch to batch.
type routeCache struct {
	key       []byte
	m         map[string]*cachedRoute
	subSecond bool
}

type cachedRoute struct {
	rt  *route
	at  int64  // time bucket the prefix was checked for
	key string // the tuple
}

// routeMemo is routeCache across batches. Each batch gets its own copy of
// a route (Accept stamps routes with the batch's time); the copies share
// the key maps, which nothing modifies. It is emptied when it reaches
// routeMemoMax entries, which bounds it without bookkeeping.
type routeMemo struct {
	mu sync.Mutex
	m  map[string]*cachedRoute
}

const routeMemoMax = 4096

func (m *routeMemo) get(tuple []byte, at int64) *cachedRoute {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.m[string(tuple)]; c != nil && c.at == at {
		return c
	}
	return nil
}

func (m *routeMemo) put(c *cachedRoute) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= routeMemoMax {
		m.m = make(map[string]*cachedRoute)
	}
	m.m[c.key] = c
}

// routeOne runs the stages that can fail a record in Firehose's order
// (docs/semantics.md, "Firehose processing order"): partition keys, then
// format conversion. v is the record parsed by fastParse (or nil), shared by
// both.
func (d *DeliveryStream) routeOne(ctx context.Context, r handover.Record, v *fastjson.Value, sc *convert.Scratch, rc *routeCache) *route {
	rt := d.routeKeysCached(ctx, r, v, rc)
	if d.cc.conv == nil || rt.ET != "" {
		return rt
	}
	if err := d.cc.conv.Check(v, r.Data, sc); err != nil {
		rt = &route{ET: ErrTypeFormatConversion, EC: codeFormatConversion, EM: err.Error()}
		rt.part = rt.partID()
	}
	return rt
}

// routeKeysCached is routeKeys through the batch's routeCache.
func (d *DeliveryStream) routeKeysCached(ctx context.Context, r handover.Record, v *fastjson.Value, rc *routeCache) *route {
	tuple, ok := rc.key[:0], true
	if len(d.qkeys) > 0 {
		if v == nil || d.cc.query.fast == nil {
			return d.routeKeys(ctx, r, v)
		}
		tuple, ok = d.cc.query.appendDirect(tuple, v, d.qkeys)
	}
	for _, k := range d.lkeys {
		if !ok {
			break
		}
		var val string
		if val, ok = r.PartitionKeys[k]; ok {
			tuple = binary.AppendUvarint(tuple, uint64(len(val)))
			tuple = append(tuple, val...)
		}
	}
	rc.key = tuple
	if !ok {
		return d.routeKeys(ctx, r, v) // an error: routeKeys words it
	}
	at := r.ArrivalTime.Unix()
	if rc.subSecond {
		at = r.ArrivalTime.UnixNano()
	}
	if c := rc.m[string(tuple)]; c != nil && c.at == at {
		return c.rt
	}
	if g := d.routes.get(tuple, at); g != nil {
		rt := *g.rt
		rc.m[g.key] = &cachedRoute{rt: &rt, at: at, key: g.key}
		return &rt
	}
	var q map[string]string
	if len(d.qkeys) > 0 {
		q = splitTuple(tuple, d.qkeys) // the tuple starts with the query's keys
	}
	rt := d.routeWith(r, q)
	if rt.ET == "" {
		key := string(tuple)
		tmpl := *rt
		d.routes.put(&cachedRoute{rt: &tmpl, at: at, key: key})
		rc.m[key] = &cachedRoute{rt: rt, at: at, key: key}
	}
	return rt
}

// routeKeys decides a record's partition; v is the record parsed by
// fastParse, or nil.
func (d *DeliveryStream) routeKeys(ctx context.Context, r handover.Record, v *fastjson.Value) *route {
	var q map[string]string
	if len(d.qkeys) > 0 {
		keys, rerr := extractKeysParsed(ctx, d.cc.query, v, r.Data, d.qkeys)
		if rerr != nil {
			return failRoute(rerr)
		}
		q = keys
	}
	return d.routeWith(r, q)
}

// failRoute is the error route of a record that cannot be partitioned.
func failRoute(e *recordError) *route {
	rt := &route{ET: e.Type, EC: e.Code, EM: e.Message}
	rt.part = rt.partID()
	return rt
}

// routeWith is routeKeys once the query's keys are known: the function's
// keys and rule 6.
func (d *DeliveryStream) routeWith(r handover.Record, q map[string]string) *route {
	rt := &route{Q: q}
	if len(d.lkeys) > 0 {
		rt.L = make(map[string]string, len(d.lkeys))
		for _, k := range d.lkeys {
			v, ok := r.PartitionKeys[k]
			if !ok {
				return failRoute(&recordError{Type: ErrTypeMetadataExtraction, Code: codeMetadataExtraction,
					Message: fmt.Sprintf("partition key %q not found in the record's partitionKeys", k)})
			}
			rt.L[k] = v
		}
	}
	// Rule 6: the evaluated prefix must fit in 512 characters; and the
	// key it starts must be one S3 takes (checkObjectKey).
	pfx, err := d.cc.prefix.render(renderInput{Time: r.ArrivalTime.In(d.cc.loc), Query: rt.Q, Lambda: rt.L,
		Random: func(int) string { return "xxxxxxxxxxx" }})
	if err == nil {
		err = checkObjectKey(pfx, d.cc.objectNameLen(rt))
	}
	if err != nil {
		return failRoute(&recordError{Type: ErrTypePrefixEvaluation, Code: codePrefixEvaluation, Message: err.Error()})
	}
	rt.part = rt.partID()
	return rt
}

// encodeBatch serialises a batch entry. It returns the payload, the offset
// of each record's data in it and the distinct routes.
func encodeBatch(firstSeq uint64, now time.Time, b handover.Batch, routes []*route) ([]byte, []int, []*route) {
	var table []*route
	idx := map[*route]int{}
	for _, rt := range routes {
		if _, ok := idx[rt]; !ok {
			idx[rt] = len(table)
			table = append(table, rt)
		}
	}
	size := 64 + len(b.Source.ID) + len(b.Source.Checkpoint)
	for _, r := range b.Records {
		size += len(r.Data) + 24
	}
	e := enc{b: make([]byte, 0, size)}
	e.uvarint(firstSeq)
	e.varint(now.UnixNano())
	e.str(b.Source.ID)
	e.str(b.Source.Checkpoint)
	e.uvarint(uint64(len(table)))
	for _, rt := range table {
		if rt.ET == "" && strings.HasPrefix(rt.part, "data:") {
			// A data route's JSON is its partition id's: the same q and l
			// maps, marshalled the same way.
			e.bytes([]byte(rt.part[len("data:"):]))
			continue
		}
		j, _ := json.Marshal(rt)
		e.bytes(j)
	}
	e.uvarint(uint64(len(b.Records)))
	offs := make([]int, len(b.Records))
	for i, r := range b.Records {
		e.uvarint(uint64(idx[routes[i]]))
		e.varint(r.ArrivalTime.UnixNano())
		offs[i] = e.bytes(r.Data)
	}
	return e.b, offs, table
}

// decodedBatch is a batch entry read back at recovery.
type decodedBatch struct {
	firstSeq   uint64
	accepted   int64
	source, cp string
	refs       []ref
}

func decodeBatch(e walEntry) (decodedBatch, error) {
	dc := dec{b: e.payload}
	var out decodedBatch
	out.firstSeq = dc.uvarint()
	out.accepted = dc.varint()
	out.source = dc.str()
	out.cp = dc.str()
	nr := dc.uvarint()
	if dc.err == nil && nr > uint64(len(e.payload)) {
		return out, errors.New("batch entry: route count runs past the entry")
	}
	table := make([]*route, 0, nr)
	for range nr {
		j, _ := dc.bytes()
		if dc.err != nil {
			break
		}
		rt := &route{}
		if err := json.Unmarshal(j, rt); err != nil {
			return out, fmt.Errorf("batch entry: decode route: %w", err)
		}
		rt.part = rt.partID()
		rt.endedMs = out.accepted / int64(time.Millisecond)
		table = append(table, rt)
	}
	n := dc.uvarint()
	if dc.err == nil && n > uint64(len(e.payload)) {
		return out, errors.New("batch entry: record count runs past the entry")
	}
	for i := range n {
		ri := dc.uvarint()
		arrival := dc.varint()
		data, off := dc.bytes()
		if dc.err != nil {
			break
		}
		if ri >= uint64(len(table)) {
			return out, errors.New("batch entry: record names a missing route")
		}
		out.refs = append(out.refs, ref{seg: e.seg, off: e.off + int64(off), n: uint32(len(data)), seq: out.firstSeq + i,
			arrival: arrival, accepted: out.accepted, rt: table[ri]})
	}
	if dc.err != nil {
		return out, fmt.Errorf("batch entry: %w", dc.err)
	}
	return out, nil
}

// addLocked puts a record in its partition's buffer. It reports whether
// it started a new buffer.
func (d *DeliveryStream) addLocked(r ref, now time.Time) (created bool) {
	buf := d.buffers[r.rt.part]
	if buf == nil {
		created = true
		buf = &buffer{part: r.rt.part, rt: r.rt, firstAt: now}
		d.buffers[r.rt.part] = buf
		d.active[r.rt.part]++
	}
	buf.refs = append(buf.refs, r)
	sz := int64(r.n)
	if d.cc.cfg.AppendDelimiter && r.rt.ET == "" {
		sz++
	}
	buf.bytes += sz
	d.bufRecords++
	d.bufBytes += sz
	return created
}

// detachLocked turns a partition's buffer into a flush: it records the
// intent in the write-ahead log (not yet synced: the flush syncs before it
// writes) and queues the job. It returns the intent's lsn.
func (d *DeliveryStream) detachLocked(part, reason string) (uint64, error) {
	buf := d.buffers[part]
	if buf == nil || len(buf.refs) == 0 {
		return 0, nil
	}
	oldest := buf.refs[0].arrival
	for _, r := range buf.refs[1:] {
		oldest = min(oldest, r.arrival)
	}
	lo, hi := buf.refs[0].seq, buf.refs[len(buf.refs)-1].seq
	now := d.opts.Now()
	in := intentRec{Part: part, Lo: lo, Hi: hi, N: len(buf.refs), Bytes: buf.bytes, Reason: reason, At: now.UnixMilli()}
	in.Key = d.objectKey(buf.rt, part, lo, hi, time.Unix(0, oldest))
	payload, _ := json.Marshal(in)
	pos, err := d.w.append(entryIntent, payload)
	if err != nil {
		return 0, err
	}
	d.noteAppend(pos)
	delete(d.buffers, part)
	d.bufRecords -= len(buf.refs)
	d.bufBytes -= buf.bytes
	d.jobs[in.Key] = &job{intentRec: in, rt: buf.rt, refs: buf.refs, pos: pos, since: now}
	d.segLive[pos.seg]++
	return pos.lsn, nil
}

// noteAppend tracks the segments the log has written to.
func (d *DeliveryStream) noteAppend(pos walPos) {
	d.lastLSN = pos.lsn
	if n := len(d.segs); n == 0 || d.segs[n-1] < pos.seg {
		d.segs = append(d.segs, pos.seg)
	}
}

// Flush writes every buffered partition now (reason "manual") and waits
// for every pending object, including ones being retried.
func (d *DeliveryStream) Flush(ctx context.Context) error {
	return d.flush(ctx, ReasonManual, func(*buffer) bool { return true })
}

// FlushDue writes the partitions whose BufferInterval has elapsed by the
// stream's clock (reason "interval"), then waits for every pending object.
// The background scheduler does the same on its own; tests with a fake
// clock call it directly.
func (d *DeliveryStream) FlushDue(ctx context.Context) error {
	now := d.opts.Now()
	return d.flush(ctx, ReasonInterval, func(b *buffer) bool { return !now.Before(b.firstAt.Add(d.interval)) })
}

func (d *DeliveryStream) flush(ctx context.Context, reason string, pick func(*buffer) bool) error {
	d.mu.Lock()
	var errs []error
	for _, p := range sortedKeys(d.buffers) {
		if pick(d.buffers[p]) {
			if _, err := d.detachLocked(p, reason); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	d.updateGaugesLocked()
	d.mu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("flush delivery stream %q: %w", d.cc.cfg.Name, errors.Join(errs...))
	}
	if err := d.drain(ctx); err != nil {
		return fmt.Errorf("flush delivery stream %q: %w", d.cc.cfg.Name, err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// drain runs pending jobs in the caller's goroutine (each at most once per
// call, whatever its retry time) and waits for jobs running elsewhere. It
// returns the errors of the jobs it ran.
func (d *DeliveryStream) drain(ctx context.Context) error {
	tried := map[string]bool{}
	var errs []error
	for {
		d.mu.Lock()
		var next *job
		for _, k := range sortedKeys(d.jobs) {
			if j := d.jobs[k]; !j.claimed && !tried[k] {
				next = j
				break
			}
		}
		waitable := false
		for k, j := range d.jobs {
			if j.claimed && !tried[k] {
				waitable = true
			}
		}
		changed := d.changed
		if next != nil {
			next.claimed = true
		}
		d.mu.Unlock()
		switch {
		case next != nil:
			tried[next.Key] = true
			if err := d.runJob(ctx, next); err != nil {
				errs = append(errs, err)
			}
		case waitable:
			select {
			case <-changed:
			case <-ctx.Done():
				return errors.Join(append(errs, ctx.Err())...)
			}
		default:
			return errors.Join(errs...)
		}
	}
}

// runJob writes one object: make the intent durable, stream the body to
// the destination, then record the flush as done. The job must be claimed.
func (d *DeliveryStream) runJob(ctx context.Context, j *job) error {
	err := d.w.sync(j.pos.lsn)
	if err == nil {
		err = d.put(ctx, j)
	}
	d.mu.Lock()
	if err != nil {
		if p, ok := dest.AsPermanent(err); ok && j.Fail == nil {
			if nj, rerr := d.rerouteLocked(j, p, err); rerr == nil {
				d.m.deliveryErrors.Inc()
				d.updateGaugesLocked()
				d.notifyLocked()
				d.mu.Unlock()
				d.log.Error("the destination refused an object for good; its records go to the error output",
					"key", j.Key, "code", p.Code, "records", j.N, "error_output_key", nj.Key, "err", err)
				d.wake()
				return nil
			}
			// The log is poisoned: retry as any failure, the reopen replays.
		}
		j.claimed = false
		j.attempts++
		j.lastErr, j.failedAt = err.Error(), d.opts.Now()
		j.retryAt = d.opts.Now().Add(min(maxRetryGap, time.Duration(1<<min(j.attempts, 10))*100*time.Millisecond))
		d.m.deliveryErrors.Inc()
		d.notifyLocked()
		attempts := j.attempts // once unlocked, another worker may claim the job
		d.mu.Unlock()
		d.log.Warn("object delivery failed; will retry", "key", j.Key, "attempts", attempts, "err", err)
		d.wake()
		return fmt.Errorf("deliver %s: %w", j.Key, err)
	}
	done, _ := json.Marshal(struct {
		Key string `json:"key"`
	}{j.Key})
	if pos, aerr := d.w.append(entryDone, done); aerr == nil {
		d.noteAppend(pos)
	} // else the log is poisoned; replay rewrites the same object, harmlessly
	delete(d.jobs, j.Key)
	if d.active[j.Part]--; d.active[j.Part] <= 0 {
		delete(d.active, j.Part)
	}
	for _, r := range j.refs {
		d.segLive[r.seg]--
	}
	d.segLive[j.pos.seg]--
	d.m.objects.WithLabelValues(j.Reason).Inc()
	d.m.objectBytes.Add(float64(j.Bytes))
	if j.Fail == nil {
		d.noteObjectSizeLocked(j)
	}
	d.updateGaugesLocked()
	d.notifyLocked()
	d.mu.Unlock()
	if err := d.gc(); err != nil {
		d.log.Warn("reclaiming write-ahead log space failed", "err", err)
	}
	return nil
}

func (d *DeliveryStream) put(ctx context.Context, j *job) error {
	meta := ObjectMeta{
		ContentType:     "application/octet-stream",
		ContentEncoding: d.cc.encoding,
		FlushReason:     j.Reason,
		Records:         j.N,
		Extra: map[string]string{
			"delivery-stream": d.cc.cfg.Name,
			"sequence-range":  fmt.Sprintf("%d-%d", j.Lo, j.Hi),
		},
	}
	if j.rt.ET != "" {
		meta.Extra["error-output-type"] = j.rt.ET
	}
	pr, pw := io.Pipe()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		pw.CloseWithError(d.writeObject(pw, j))
	}()
	err := d.opts.Destination.Put(ctx, d.cc.cfg.Bucket, j.Key, pr, meta)
	pr.CloseWithError(errors.New("destination stopped reading"))
	<-wrote
	return err
}

func (d *DeliveryStream) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *DeliveryStream) updateGaugesLocked() {
	d.m.bufferedRecords.Set(float64(d.bufRecords))
	d.m.bufferedBytes.Set(float64(d.bufBytes))
	d.m.activePartitions.Set(float64(len(d.active)))
	d.m.pendingObjects.Set(float64(len(d.jobs)))
	failing := 0
	for _, j := range d.jobs {
		if j.attempts > 0 {
			failing++
		}
	}
	d.m.failingObjects.Set(float64(failing))
}

// gc deletes write-ahead-log segments, oldest first, while the oldest one
// holds nothing undelivered. Deleting only from the front keeps a simple
// invariant for recovery: if a flush's intent is gone, so are its records.
func (d *DeliveryStream) gc() error {
	d.gcMu.Lock()
	defer d.gcMu.Unlock()
	d.mu.Lock()
	var drop []uint64
	active := d.w.active()
	for len(d.segs) > 0 && d.segs[0] != active && d.segLive[d.segs[0]] <= 0 {
		drop = append(drop, d.segs[0])
		delete(d.segLive, d.segs[0])
		d.segs = d.segs[1:]
	}
	lsn := d.lastLSN
	d.mu.Unlock()
	if len(drop) == 0 {
		return nil
	}
	// The done entries that released these segments must be durable first.
	if err := d.w.sync(lsn); err != nil {
		return err
	}
	for _, s := range drop {
		if err := d.w.remove(s); err != nil {
			return err
		}
	}
	return nil
}

// dispatch starts background writes for pending jobs that are due, up to
// FlushConcurrency at once.
func (d *DeliveryStream) dispatch() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil || d.ctx.Err() != nil {
		return
	}
	now := d.opts.Now()
	for _, k := range sortedKeys(d.jobs) {
		j := d.jobs[k]
		if j.claimed || now.Before(j.retryAt) {
			continue
		}
		select {
		case d.sem <- struct{}{}:
		default:
			return
		}
		j.claimed = true
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.runJob(d.ctx, j) // errors are logged and retried
			<-d.sem
			d.dispatch()
		}()
	}
}

func (d *DeliveryStream) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// schedule is the one goroutine that watches buffer ages and retry times;
// there is no timer per record or per partition.
func (d *DeliveryStream) schedule() {
	defer d.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d.mu.Lock()
		var next time.Time
		now := d.opts.Now()
		for _, b := range d.buffers {
			if at := b.firstAt.Add(d.interval); next.IsZero() || at.Before(next) {
				next = at
			}
		}
		for _, j := range d.jobs {
			// A job due now but not running waits for a free slot, and the
			// write that frees it dispatches again; only future retries
			// need the timer.
			if !j.claimed && j.retryAt.After(now) && (next.IsZero() || j.retryAt.Before(next)) {
				next = j.retryAt
			}
		}
		d.mu.Unlock()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(now), 0)
		}
		t.Reset(wait)
		select {
		case <-d.ctx.Done():
			return
		case <-d.kick:
		case <-t.C:
		}
		now = d.opts.Now()
		d.mu.Lock()
		var err error
		for _, p := range sortedKeys(d.buffers) {
			if b := d.buffers[p]; !now.Before(b.firstAt.Add(d.interval)) {
				if _, err = d.detachLocked(p, ReasonInterval); err != nil {
					break
				}
			}
		}
		d.updateGaugesLocked()
		d.mu.Unlock()
		if err != nil {
			// The log is poisoned: nothing can be flushed until reopen, and
			// looping on the still-due buffer would spin.
			d.log.Error("interval flush failed; delivery stopped until the stream is reopened", "err", err)
			return
		}
		d.dispatch()
	}
}

// Close refuses further batches, flushes every partition (reason
// "shutdown"), waits for the objects and closes the log. Records that
// could not be delivered stay in the log for the next Open.
func (d *DeliveryStream) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	ferr := d.flush(ctx, ReasonShutdown, func(*buffer) bool { return true })
	d.cancel()
	d.wg.Wait()
	if err := d.gc(); err != nil && ferr == nil {
		ferr = err
	}
	if err := d.w.close(); err != nil && ferr == nil {
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
	d.mu.Lock()
	d.closed = true
	d.w.abandon()
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

// recover rebuilds buffers, pending flushes and checkpoints from the log.
func (d *DeliveryStream) recover(dir string, segs []uint64) error {
	parts := map[string][]ref{}
	var intents []*job
	done := map[string]bool{}
	for i, s := range segs {
		err := readSegment(dir, s, i == len(segs)-1, func(e walEntry) error {
			switch e.typ {
			case entryHead:
				var h headRec
				if err := json.Unmarshal(e.payload, &h); err != nil {
					return fmt.Errorf("decode head: %w", err)
				}
				d.nextSeq = max(d.nextSeq, h.Next)
				for k, v := range h.Checkpoints {
					d.appendedCps[k] = v
				}
			case entryBatch:
				b, err := decodeBatch(e)
				if err != nil {
					return err
				}
				for _, r := range b.refs {
					parts[r.rt.part] = append(parts[r.rt.part], r)
				}
				d.nextSeq = max(d.nextSeq, b.firstSeq+uint64(len(b.refs)))
				if b.cp != "" {
					d.appendedCps[b.source] = b.cp
				}
			case entryIntent:
				j := &job{pos: walPos{seg: e.seg, off: e.off}}
				if err := json.Unmarshal(e.payload, &j.intentRec); err != nil {
					return fmt.Errorf("decode flush intent: %w", err)
				}
				if j.Replaces != "" {
					done[j.Replaces] = true // rerouted: resolved by this object
				}
				intents = append(intents, j)
			case entryDone:
				var k struct {
					Key string `json:"key"`
				}
				if err := json.Unmarshal(e.payload, &k); err != nil {
					return fmt.Errorf("decode flush done: %w", err)
				}
				done[k.Key] = true
			default:
				return fmt.Errorf("unknown entry type %d", e.typ)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for k, v := range d.appendedCps {
		d.cps[k] = cpState{cp: v}
	}
	byPart := map[string][]*job{}
	for _, j := range intents {
		byPart[j.Part] = append(byPart[j.Part], j)
	}
	for part, refs := range parts {
		// Ranges are disjoint but for a reroute, which repeats the range
		// of the object it replaces: sorted by start, such intents are
		// neighbours, and a record belongs to the one not yet done.
		js := byPart[part]
		sort.SliceStable(js, func(a, b int) bool { return js[a].Lo < js[b].Lo })
		k := 0
		for _, r := range refs {
			for k < len(js) && js[k].Hi < r.seq {
				k++
			}
			covered := false
			for x := k; x < len(js) && js[x].Lo <= r.seq; x++ {
				if js[x].Hi < r.seq {
					continue
				}
				covered = true
				if !done[js[x].Key] {
					js[x].refs = append(js[x].refs, r)
					break
				}
			}
			if covered {
				continue
			}
			d.addLocked(r, time.Unix(0, r.accepted))
			d.segLive[r.seg]++
		}
	}
	for _, j := range intents {
		if done[j.Key] {
			continue
		}
		if len(j.refs) != j.N {
			return fmt.Errorf("flush intent %s names %d records but the log holds %d of them", j.Key, j.N, len(j.refs))
		}
		j.rt = j.refs[0].rt
		if j.Fail != nil {
			j.rt, j.refs = failureRoute(*j.Fail), reroutedRefs(j.refs, *j.Fail)
		}
		j.since = time.UnixMilli(j.At)
		if j.At == 0 {
			j.since = time.Unix(0, j.refs[0].accepted)
		}
		d.jobs[j.Key] = j
		d.active[j.Part]++
		d.segLive[j.pos.seg]++
		for _, r := range j.refs {
			d.segLive[r.seg]++
		}
	}
	// Buffers were rebuilt with the acceptance time of their first record,
	// so the interval keeps counting from when the records really arrived.
	for _, b := range d.buffers {
		b.firstAt = time.Unix(0, b.refs[0].accepted)
	}
	return nil
}

// Config returns the stream's configuration with Firehose's defaults
// applied (what DescribeDeliveryStream shows).
func (d *DeliveryStream) Config() Config { return d.cc.cfg }

// noteObjectSizeLocked counts small objects and keeps the small-file
// alarm: a partition whose interval flushes keep producing objects under a
// tenth of the buffer size is paying per-object costs (S3 requests, tiny
// files for query engines) for nothing; raise the interval or cut the
// partitions. Shutdown and manual flushes say nothing about the traffic.
func (d *DeliveryStream) noteObjectSizeLocked(j *job) {
	small := j.Bytes < d.cc.cfg.BufferSize/10
	if small {
		d.m.smallObjects.Inc()
	}
	switch {
	case j.Reason != ReasonInterval:
		return
	case !small:
		delete(d.smallStreak, j.Part)
		delete(d.alarmed, j.Part)
	default:
		d.smallStreak[j.Part]++
		if d.smallStreak[j.Part] >= smallFileStreak && !d.alarmed[j.Part] {
			d.alarmed[j.Part] = true
			d.log.Warn("small-file alarm: a partition keeps flushing tiny objects; raise IntervalInSeconds or reduce partitions",
				"partition", j.Part, "objects", d.smallStreak[j.Part], "bytes", j.Bytes, "buffer_size", d.cc.cfg.BufferSize)
		}
	}
	d.m.smallFileAlarm.Set(float64(len(d.alarmed)))
}
