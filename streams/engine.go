// Package streams is Sluice's embedded, Kinesis-compatible data stream: the
// stream and shard model, durable per-shard storage with group commit,
// provisioned-throughput limits and the on-demand autoscaler, the Kinesis
// HTTP API in JSON 1.1 and CBOR with enhanced fan-out (SubscribeToShard as
// an AWS event stream), hot-shard tracking for the capacity advisor, and an
// in-process client with the same Go methods as aws-sdk-go-v2's
// *kinesis.Client. RATIONALE.md explains the less obvious choices.
//
// It knows nothing of triggers, functions or sinks: it is a Kinesis, nothing
// more. The AWS behaviours it copies are described in docs/semantics.md
// ("Kinesis Data Streams"); comments cite its headings.
package streams

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/fsutil"
	"github.com/sluice-dev/sluice/internal/seglog"
)

// Options configures an Engine. The zero value is usable.
type Options struct {
	// Limits enforces provisioned per-shard limits (docs/semantics.md,
	// "Per-shard throughput limits"): writes of 1 MiB/s and 1000 records/s
	// (PutRecords fails the excess records with
	// ProvisionedThroughputExceededException), reads of 2 MiB/s and 5
	// GetRecords calls/s.
	Limits bool
	// CreateDelay is how long a stream created through the API stays
	// CREATING (and a reshard UPDATING) before it turns ACTIVE, like AWS's
	// asynchronous control plane. Default 50ms; negative means none.
	CreateDelay time.Duration
	// Logger receives operational messages; default discards them.
	Logger *slog.Logger
	// Time is the source of time: arrival times, iterator expiry,
	// retention, timers and subscription deadlines. Default the wall clock;
	// tests pass a clock.Fake.
	Time clock.Clock
	// Clock, when set and Time is not, tells the time of day instead of
	// the wall clock (timers still run on the wall clock). It predates
	// Time and is kept for the callers that set it; prefer Time.
	Clock func() time.Time
	// Region and AccountID appear in stream ARNs and error messages.
	// Defaults us-east-1 and 000000000000, like kinesalite.
	Region, AccountID string
	// SubscribeDuration is how long one SubscribeToShard stream lasts before
	// the consumer must subscribe again (docs/semantics.md, "Enhanced
	// fan-out"). Default 5 minutes.
	SubscribeDuration time.Duration
	// Credentials, when non-empty, maps access key IDs to secret keys and
	// makes the HTTP API verify every request's SigV4 signature against
	// them (`--verify-sigv4`); empty, signatures are accepted unread.
	Credentials map[string]string

	// storage is the file layer of shard logs (default: the OS); tests put
	// a seglog.FaultFS here to fill the disk or fail fsyncs.
	storage seglog.FS
}

// ErrStreamExists is returned (wrapped) by Engine.CreateStream when the
// stream already exists.
var ErrStreamExists = errors.New("stream already exists")

// Engine owns every stream stored under one directory.
type Engine struct {
	dir     string
	opts    Options
	clk     clock.Clock
	now     func() time.Time // clk.Now
	log     *slog.Logger
	iterKey []byte
	metrics *metrics

	mu      sync.RWMutex
	streams map[string]*stream
	byInc   map[uint32]*stream
	// goneNames names the incarnations deleted since start, so GetRecords
	// with an iterator of one can name its stream as the service does.
	goneNames map[uint32]string
	nextInc   uint32
	closed    bool
	timers    map[clock.Timer]struct{}

	// metaMu serialises metadata writes; lock order is e.mu, stream.mu,
	// metaMu.
	metaMu   sync.Mutex
	metaSnap map[string]streamMeta

	// Live SubscribeToShard streams, one per consumer and shard
	// (docs/semantics.md, "Enhanced fan-out").
	subMu sync.Mutex
	subs  map[subKey]*subscription

	done chan struct{}
	wg   sync.WaitGroup
}

// stream is one Kinesis stream incarnation.
type stream struct {
	name    string
	arn     string
	inc     uint32
	created time.Time
	mode    types.StreamMode
	dir     string
	m       streamMetrics

	mu        sync.RWMutex
	status    types.StreamStatus
	retention int32 // hours
	tags      map[string]string
	shards    []*shard // every shard, by index
	open      []*shard // open shards sorted by starting hash key
	maxKiB    int32
	consumers map[string]*consumer // enhanced fan-out consumers by name
	// modeSwitches are this process's UpdateStreamMode times, for the
	// two-per-24-hours rule (docs/semantics.md, "Capacity modes"); not
	// persisted.
	modeSwitches []time.Time
}

// shard is one shard of a stream. Fields other than closed/closedMs are
// immutable after creation.
type shard struct {
	index     uint32
	id        string
	parent    string
	adjParent string
	start     u128
	end       u128
	createdMs int64
	seq       seqKey
	log       *shardLog
	lim       *limiter // nil when limits are off
	heat      heat     // recent writes and heaviest keys, for Hot

	// Guarded by stream.mu.
	closed   bool
	closedMs int64
}

// Persisted metadata; see saveMeta.
type metaFile struct {
	Version         int          `json:"version"`
	NextIncarnation uint32       `json:"nextIncarnation"`
	Streams         []streamMeta `json:"streams"`
}

type streamMeta struct {
	Name           string            `json:"name"`
	Incarnation    uint32            `json:"incarnation"`
	CreatedMillis  int64             `json:"createdMillis"`
	Mode           string            `json:"mode"`
	RetentionHours int32             `json:"retentionHours"`
	MaxRecordKiB   int32             `json:"maxRecordKiB,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	Shards         []shardMeta       `json:"shards"`
	Consumers      []consumerMeta    `json:"consumers,omitempty"`
}

type consumerMeta struct {
	Name          string `json:"name"`
	CreatedMillis int64  `json:"createdMillis"`
}

type shardMeta struct {
	Index          uint32 `json:"index"`
	Parent         string `json:"parent,omitempty"`
	AdjacentParent string `json:"adjacentParent,omitempty"`
	StartHashKey   string `json:"startHashKey"`
	EndHashKey     string `json:"endHashKey"`
	CreatedMillis  int64  `json:"createdMillis"`
	Closed         bool   `json:"closed,omitempty"`
	ClosedMillis   int64  `json:"closedMillis,omitempty"`
}

const (
	metaName       = "streams.json"
	keyName        = "iterator.key"
	defaultRetain  = 24
	retentionCheck = time.Minute
)

// Open opens the engine stored in dir, creating it if needed, and recovers
// every stream: metadata from streams.json and records from the shard logs
// (dropping any torn tail a crash left).
func Open(dir string, opts Options) (*Engine, error) {
	if opts.CreateDelay == 0 {
		opts.CreateDelay = 50 * time.Millisecond
	}
	if opts.CreateDelay < 0 {
		opts.CreateDelay = 0
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	clk := clock.Or(opts.Time)
	if opts.Time == nil && opts.Clock != nil {
		clk = clock.WithNow(clk, opts.Clock)
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.SubscribeDuration <= 0 {
		opts.SubscribeDuration = 5 * time.Minute
	}
	if err := fsutil.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("create stream dir: %w", err)
	}
	e := &Engine{
		dir:      dir,
		opts:     opts,
		clk:      clk,
		now:      clk.Now,
		log:      opts.Logger,
		metrics:  newMetrics(),
		streams:  map[string]*stream{},
		byInc:    map[uint32]*stream{},
		nextInc:  1,
		timers:   map[clock.Timer]struct{}{},
		metaSnap: map[string]streamMeta{},
		subs:     map[subKey]*subscription{},
		done:     make(chan struct{}),
	}
	key, err := loadOrCreateKey(filepath.Join(dir, keyName))
	if err != nil {
		return nil, err
	}
	e.iterKey = key
	if err := e.loadMeta(); err != nil {
		e.closeStreams()
		return nil, err
	}
	e.removeOrphans()
	e.wg.Add(2)
	go e.every(retentionCheck, e.trimAll)   // delete expired segments
	go e.every(autoscaleEvery, e.autoscale) // split hot ON_DEMAND shards
	return e, nil
}

// loadOrCreateKey returns the per-engine iterator signing key. It is
// persisted so iterators stay valid across a restart.
func loadOrCreateKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read iterator key: %w", err)
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, fmt.Errorf("generate iterator key: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("write iterator key: %w", err)
	}
	return key, nil
}

func (e *Engine) loadMeta() error {
	b, err := os.ReadFile(filepath.Join(e.dir, metaName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read stream metadata: %w", err)
	}
	var mf metaFile
	if err := json.Unmarshal(b, &mf); err != nil {
		return fmt.Errorf("parse stream metadata: %w", err)
	}
	e.nextInc = max(mf.NextIncarnation, 1)
	for _, sm := range mf.Streams {
		s, err := e.newStream(sm)
		if err != nil {
			return err
		}
		// A stream persisted while CREATING finished creating as far as
		// anyone can tell: its shards exist.
		s.status = types.StreamStatusActive
		e.streams[s.name] = s
		e.byInc[s.inc] = s
		e.metaSnap[s.name] = sm
		e.nextInc = max(e.nextInc, s.inc+1)
	}
	return nil
}

// newStream builds a stream from metadata, opening its shard logs.
func (e *Engine) newStream(sm streamMeta) (*stream, error) {
	s := &stream{
		name:      sm.Name,
		arn:       e.streamARN(sm.Name),
		inc:       sm.Incarnation,
		created:   time.UnixMilli(sm.CreatedMillis),
		mode:      types.StreamMode(sm.Mode),
		dir:       filepath.Join(e.dir, "data", strconv.FormatUint(uint64(sm.Incarnation), 10)),
		retention: sm.RetentionHours,
		tags:      sm.Tags,
		maxKiB:    sm.MaxRecordKiB,
		m:         e.metrics.forStream(sm.Name),
	}
	if s.tags == nil {
		s.tags = map[string]string{}
	}
	if s.maxKiB == 0 {
		s.maxKiB = 1024
	}
	s.consumers = map[string]*consumer{}
	for _, cm := range sm.Consumers {
		c := s.newConsumer(cm.Name, time.UnixMilli(cm.CreatedMillis))
		c.status = types.ConsumerStatusActive
		s.consumers[c.name] = c
	}
	for _, m := range sm.Shards {
		sh, err := e.openShard(s, m)
		if err != nil {
			s.closeLogs()
			return nil, err
		}
		s.shards = append(s.shards, sh)
	}
	s.reindexOpen()
	return s, nil
}

func (e *Engine) openShard(s *stream, m shardMeta) (*shard, error) {
	start, err1 := parseU128(m.StartHashKey)
	end, err2 := parseU128(m.EndHashKey)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("stream %s shard %d: bad hash range in metadata", s.name, m.Index)
	}
	lg, err := openShardLog(filepath.Join(s.dir, strconv.FormatUint(uint64(m.Index), 10)), shardLogOptions{Clock: e.clk, FS: e.opts.storage, Logger: e.log})
	if err != nil {
		return nil, fmt.Errorf("open stream %s shard %d: %w", s.name, m.Index, err)
	}
	sh := &shard{
		index:     m.Index,
		id:        shardID(m.Index),
		parent:    m.Parent,
		adjParent: m.AdjacentParent,
		start:     start,
		end:       end,
		createdMs: m.CreatedMillis,
		seq:       newSeqKey(s.inc, m.Index, m.CreatedMillis),
		log:       lg,
		closed:    m.Closed,
		closedMs:  m.ClosedMillis,
	}
	if e.opts.Limits {
		sh.lim = newLimiter(e.now())
	}
	return sh, nil
}

func shardID(index uint32) string { return fmt.Sprintf("shardId-%012d", index) }

// parseShardID accepts the service form shardId-NNNNNNNNNNNN and, like AWS,
// a bare number.
//
// As the service does (recorded by kinesalite's suite), it reads the
// digits after the first hyphen, up to the next one: "shardId-5",
// "anything-000005" and "5" all name shard 5; an index must be at most
// 2^31-1.
func parseShardID(id string) (uint32, bool) {
	if i := strings.IndexByte(id, '-'); i >= 0 {
		rest := id[i+1:]
		if j := strings.IndexByte(rest, '-'); j >= 0 {
			rest = rest[:j]
		}
		if rest != "" {
			id = rest
		}
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n > 1<<31-1 {
		return 0, false
	}
	return uint32(n), true
}

func (e *Engine) streamARN(name string) string {
	return "arn:aws:kinesis:" + e.opts.Region + ":" + e.opts.AccountID + ":stream/" + name
}

// reindexOpen rebuilds the routing table. Callers hold s.mu for writing or
// own s exclusively.
func (s *stream) reindexOpen() {
	s.open = s.open[:0]
	for _, sh := range s.shards {
		if !sh.closed {
			s.open = append(s.open, sh)
		}
	}
	sort.Slice(s.open, func(i, j int) bool { return s.open[i].start.cmp(s.open[j].start) < 0 })
}

// route returns the open shard whose inclusive hash range holds h
// (docs/semantics.md, "Hash key routing"). Callers hold s.mu.
func (s *stream) route(h u128) *shard {
	i := sort.Search(len(s.open), func(i int) bool { return s.open[i].start.cmp(h) > 0 }) - 1
	if i < 0 || s.open[i].end.cmp(h) < 0 {
		return nil
	}
	return s.open[i]
}

func (s *stream) shard(id string) *shard {
	idx, ok := parseShardID(id)
	if !ok || int(idx) >= len(s.shards) {
		return nil
	}
	return s.shards[idx]
}

// metaLocked snapshots s for persisting. Callers hold s.mu.
func (s *stream) metaLocked() streamMeta {
	sm := streamMeta{
		Name:           s.name,
		Incarnation:    s.inc,
		CreatedMillis:  s.created.UnixMilli(),
		Mode:           string(s.mode),
		RetentionHours: s.retention,
		MaxRecordKiB:   s.maxKiB,
		Tags:           s.tags,
	}
	for _, c := range s.consumers {
		sm.Consumers = append(sm.Consumers, consumerMeta{Name: c.name, CreatedMillis: c.created.UnixMilli()})
	}
	slices.SortFunc(sm.Consumers, func(a, b consumerMeta) int { return strings.Compare(a.Name, b.Name) })
	for _, sh := range s.shards {
		sm.Shards = append(sm.Shards, shardMeta{
			Index:          sh.index,
			Parent:         sh.parent,
			AdjacentParent: sh.adjParent,
			StartHashKey:   sh.start.String(),
			EndHashKey:     sh.end.String(),
			CreatedMillis:  sh.createdMs,
			Closed:         sh.closed,
			ClosedMillis:   sh.closedMs,
		})
	}
	return sm
}

// saveMeta persists the metadata with name's entry replaced by sm (or
// removed when sm is nil). It must complete before a change it records is
// visible: a record acknowledged into a new shard is only recoverable if
// that shard is in the metadata.
func (e *Engine) saveMeta(name string, sm *streamMeta, nextInc uint32) error {
	e.metaMu.Lock()
	defer e.metaMu.Unlock()
	old, had := e.metaSnap[name]
	if sm == nil {
		delete(e.metaSnap, name)
	} else {
		e.metaSnap[name] = *sm
	}
	mf := metaFile{Version: 1, NextIncarnation: nextInc}
	for _, m := range e.metaSnap {
		mf.Streams = append(mf.Streams, m)
	}
	slices.SortFunc(mf.Streams, func(a, b streamMeta) int { return int(a.Incarnation) - int(b.Incarnation) })
	b, err := json.MarshalIndent(mf, "", "  ")
	if err == nil {
		err = fsutil.WriteFileAtomic(filepath.Join(e.dir, metaName), b, 0o600)
	}
	if err != nil {
		if had {
			e.metaSnap[name] = old
		} else {
			delete(e.metaSnap, name)
		}
		return fmt.Errorf("save stream metadata: %w", err)
	}
	return nil
}

// removeOrphans deletes data directories of streams that are no longer in
// the metadata (a crash between DeleteStream's metadata write and its
// directory removal, or a CreateStream that never got persisted).
func (e *Engine) removeOrphans() {
	ents, err := os.ReadDir(filepath.Join(e.dir, "data"))
	if err != nil {
		return
	}
	for _, ent := range ents {
		n, err := strconv.ParseUint(ent.Name(), 10, 32)
		if err != nil {
			continue
		}
		if _, ok := e.byInc[uint32(n)]; !ok {
			e.log.Info("removing data of deleted stream", "dir", ent.Name())
			os.RemoveAll(filepath.Join(e.dir, "data", ent.Name()))
		}
	}
}

// Close stops background work and closes every shard log. Appends still
// queued fail; acknowledged ones are already durable.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	for t := range e.timers {
		t.Stop()
	}
	e.mu.Unlock()
	close(e.done)
	e.wg.Wait()
	e.closeStreams()
	return nil
}

func (e *Engine) closeStreams() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.streams {
		s.closeLogs()
	}
}

func (s *stream) closeLogs() {
	for _, sh := range s.shards {
		sh.log.Close()
	}
}

// createStream creates a stream with n shards. When active is false it is
// CREATING until CreateDelay passes.
func (e *Engine) createStream(name string, n int, mode types.StreamMode, tags map[string]string, maxKiB int32, active bool) (*stream, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errEngineClosed
	}
	if _, ok := e.streams[name]; ok {
		return nil, &types.ResourceInUseException{Message: aws.String(fmt.Sprintf("Stream %s under account %s already exists.", name, e.opts.AccountID))}
	}
	now := e.now()
	inc := e.nextInc
	sm := streamMeta{
		Name:           name,
		Incarnation:    inc,
		CreatedMillis:  now.UnixMilli(),
		Mode:           string(mode),
		RetentionHours: defaultRetain,
		MaxRecordKiB:   maxKiB,
		Tags:           tags,
	}
	for i, r := range evenRanges(n) {
		sm.Shards = append(sm.Shards, shardMeta{
			Index:         uint32(i),
			StartHashKey:  r[0].String(),
			EndHashKey:    r[1].String(),
			CreatedMillis: now.UnixMilli(),
		})
	}
	s, err := e.newStream(sm)
	if err != nil {
		os.RemoveAll(filepath.Join(e.dir, "data", strconv.FormatUint(uint64(inc), 10)))
		return nil, err
	}
	if err := e.saveMeta(name, &sm, inc+1); err != nil {
		s.closeLogs()
		os.RemoveAll(s.dir)
		return nil, err
	}
	e.nextInc = inc + 1
	s.status = types.StreamStatusCreating
	if active || e.opts.CreateDelay == 0 {
		s.status = types.StreamStatusActive
	} else {
		e.afterLocked(e.opts.CreateDelay, func() { s.setStatus(types.StreamStatusActive) })
	}
	e.streams[name] = s
	e.byInc[inc] = s
	e.log.Info("stream created", "stream", name, "shards", n)
	return s, nil
}

// afterLocked runs f after d unless the engine closes first. Callers hold
// e.mu.
func (e *Engine) afterLocked(d time.Duration, f func()) {
	var t clock.Timer
	t = e.clk.AfterFunc(d, func() {
		e.mu.Lock()
		_, live := e.timers[t]
		delete(e.timers, t)
		e.mu.Unlock()
		if live {
			f()
		}
	})
	e.timers[t] = struct{}{}
}

func (s *stream) setStatus(st types.StreamStatus) {
	s.mu.Lock()
	s.status = st
	s.mu.Unlock()
}

// CreateStream creates a provisioned stream with shardCount shards and
// returns once it is ACTIVE. It is the Go-side create used at start-up; if
// the stream exists the error matches errors.Is(err, ErrStreamExists).
func (e *Engine) CreateStream(ctx context.Context, name string, shardCount int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !validStreamName(name) {
		return fmt.Errorf("create stream %q: invalid name: want 1-128 of [a-zA-Z0-9_.-]", name)
	}
	if shardCount < 1 || shardCount > maxShardsPerStream {
		return fmt.Errorf("create stream %q: shard count %d out of range [1, %d]", name, shardCount, maxShardsPerStream)
	}
	_, err := e.createStream(name, shardCount, types.StreamModeProvisioned, nil, 1024, true)
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return fmt.Errorf("create stream %q: %w", name, ErrStreamExists)
	}
	if err != nil {
		return fmt.Errorf("create stream %q: %w", name, err)
	}
	return nil
}

// maxShardsPerStream bounds one stream; each shard holds open files.
const maxShardsPerStream = 1000

func validStreamName(name string) bool {
	if len(name) < 1 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

var errEngineClosed = errors.New("stream engine closed")

// deleteStream removes a stream and its data.
func (e *Engine) deleteStream(s *stream) error {
	e.mu.Lock()
	if e.streams[s.name] != s {
		e.mu.Unlock()
		return nil
	}
	if err := e.saveMeta(s.name, nil, e.nextInc); err != nil {
		e.mu.Unlock()
		return err
	}
	delete(e.streams, s.name)
	delete(e.byInc, s.inc)
	if e.goneNames == nil {
		e.goneNames = map[uint32]string{}
	}
	if len(e.goneNames) < 10000 {
		e.goneNames[s.inc] = s.name
	}
	e.mu.Unlock()
	s.mu.Lock()
	s.status = types.StreamStatusDeleting
	s.closeLogs()
	s.mu.Unlock()
	e.metrics.dropStream(s.name)
	if err := os.RemoveAll(s.dir); err != nil {
		// The metadata no longer names it; Open removes it next time.
		e.log.Warn("remove stream data", "stream", s.name, "err", err)
	}
	return nil
}

// every calls fn every d until the engine closes. The two periodic jobs
// use it, and a ticker is right for both: retention expiry is a function
// of wall time and on-demand scaling follows load, a rate over wall time;
// neither has an event to wait for.
func (e *Engine) every(d time.Duration, fn func()) {
	defer e.wg.Done()
	t := e.clk.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-e.done:
			return
		case <-t.Chan():
			fn()
		}
	}
}

func (e *Engine) trimAll() {
	e.mu.RLock()
	ss := make([]*stream, 0, len(e.streams))
	for _, s := range e.streams {
		ss = append(ss, s)
	}
	e.mu.RUnlock()
	for _, s := range ss {
		cutoff := s.trimHorizon(e.now())
		s.mu.RLock()
		shards := slices.Clone(s.shards)
		s.mu.RUnlock()
		for _, sh := range shards {
			if n, err := sh.log.TrimBefore(cutoff); err != nil {
				e.log.Warn("trim expired records", "stream", s.name, "shard", sh.id, "err", err)
			} else if n > 0 {
				e.log.Info("trimmed expired segments", "stream", s.name, "shard", sh.id, "segments", n)
			}
		}
	}
}

// trimHorizon is the arrival time, in Unix ms, before which records are
// expired (docs/semantics.md, "Retention").
func (s *stream) trimHorizon(now time.Time) int64 {
	s.mu.RLock()
	h := s.retention
	s.mu.RUnlock()
	return now.Add(-time.Duration(h) * time.Hour).UnixMilli()
}

// StreamInfo summarises a stream for status displays.
type StreamInfo struct {
	Name           string
	ARN            string
	Status         string
	Mode           string
	OpenShards     int
	TotalShards    int
	RetentionHours int
	Created        time.Time
}

// Streams lists the streams, sorted by name.
func (e *Engine) Streams() []StreamInfo {
	e.mu.RLock()
	ss := make([]*stream, 0, len(e.streams))
	for _, s := range e.streams {
		ss = append(ss, s)
	}
	e.mu.RUnlock()
	out := make([]StreamInfo, 0, len(ss))
	for _, s := range ss {
		s.mu.RLock()
		out = append(out, StreamInfo{
			Name:           s.name,
			ARN:            s.arn,
			Status:         string(s.status),
			Mode:           string(s.mode),
			OpenShards:     len(s.open),
			TotalShards:    len(s.shards),
			RetentionHours: int(s.retention),
			Created:        s.created,
		})
		s.mu.RUnlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
