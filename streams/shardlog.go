package streams

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/seglog"
)

// A shard's records live in a seglog.Log (internal/seglog: segments,
// group commit, torn-tail recovery), one frame per record. This file is
// what the frames mean: record counters, arrival times, and the sparse
// index that starts each read near its target.
//
// A record becomes visible to readers, and its append is acknowledged,
// only after the fsync that covers it has returned; so anything a reader
// ever saw or a producer was told is durable survives kill -9.
//
// Memory stays flat as the log grows: records live only on disk; memory
// holds, per segment, a sparse index (one entry per indexEvery bytes).
// Sealed segments keep that index in a sidecar file (shardlog_sealed.go),
// so Open reads only the newest segment in full. A segment is named after
// the counter of the first record it may hold.
//
// Record frame body (little endian): counter u64 | arrivalMillis i64 |
// keyLen u16 | key | data. The format is the one the release before
// internal/seglog wrote (testdata/shardlog-v1).
const (
	recordHeader = 18
	// maxRecordFrame bounds a frame at recovery; real records are at most
	// ~1 MiB.
	maxRecordFrame = 16 << 20
	// shardSyncBatch bounds the appends one group commit waits for.
	shardSyncBatch = 1024
)

// errShardLogClosed is returned for appends to, or reads from, a closed
// shard log.
var errShardLogClosed = seglog.ErrClosed

// shardEntry is one record to append. The log keeps no reference to Key
// or Data once Append has returned.
type shardEntry struct {
	Key  string
	Data []byte
}

// shardRecord is one stored record.
type shardRecord struct {
	Counter       uint64
	ArrivalMillis int64
	Key           string
	Data          []byte
}

// shardLogOptions tunes a shard log. Zero values pick defaults.
type shardLogOptions struct {
	// SegmentBytes is the size past which appends roll to a new segment;
	// retention deletes whole segments. Default 64 MiB.
	SegmentBytes int64
	// IndexEvery is the byte distance between sparse index entries.
	// Default 32 KiB.
	IndexEvery int64
	// Clock supplies arrival times; default the wall clock.
	Clock clock.Clock
	// NoSync skips fsync (tests of non-durability concerns only).
	NoSync bool
	// FS is the file layer; tests pass a seglog.FaultFS.
	FS seglog.FS
	// Logger receives warnings (a damaged segment cut at Open, a sealed
	// index not written); default slog.Default().
	Logger *slog.Logger
}

type indexEntry struct {
	counter uint64
	millis  int64
	off     int64 // of the frame
}

// shardSegment is what readers know of one segment. Guarded by
// shardLog.mu.
type shardSegment struct {
	id         uint64 // the log's segment ID: the first counter it may hold
	path       string
	last       uint64 // counter of its newest record; 0 if empty
	firstMs    int64
	lastMs     int64
	size       int64 // bytes of published records
	index      []indexEntry
	lastIndexd int64
	removed    bool
}

// pendingRecord is a record appended but not yet durable.
type pendingRecord struct {
	end     uint64 // its append's end in the log
	counter uint64
	millis  int64
	seg     uint64
	off     int64 // of the frame
	size    int64 // of the frame
}

// shardLog is one shard's durable record log. It is safe for concurrent
// use.
type shardLog struct {
	log        *seglog.Log
	dir        string
	clock      clock.Clock
	logger     *slog.Logger
	indexEvery int64

	// Numbering of appends: guarded by the seglog's append lock (Append's
	// fill, OnDiscard, NextID run under it).
	appendNext uint64
	appendMs   int64

	pendMu sync.Mutex
	pend   []pendingRecord

	syncs chan *shardPending // to the group-commit goroutine
	quit  chan struct{}
	done  chan struct{}

	mu     sync.RWMutex
	segs   []*shardSegment
	next   uint64 // counter the next published record will get
	lastMs int64
	notify chan struct{}
	closed bool
}

// openShardLog opens (creating if needed) the shard log in dir,
// recovering its records and cutting a torn tail.
func openShardLog(dir string, opts shardLogOptions) (*shardLog, error) {
	if opts.IndexEvery <= 0 {
		opts.IndexEvery = 32 << 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l := &shardLog{
		dir:        dir,
		clock:      clock.Or(opts.Clock),
		logger:     opts.Logger,
		indexEvery: opts.IndexEvery,
		syncs:      make(chan *shardPending, shardSyncBatch),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
		notify:     make(chan struct{}),
		next:       1,
	}
	byID := map[uint64]*shardSegment{}
	segFor := func(id uint64, path string) *shardSegment {
		s := byID[id]
		if s == nil {
			s = &shardSegment{id: id, path: path}
			byID[id] = s
			l.next = max(l.next, id)
		}
		return s
	}
	lg, err := seglog.Open(dir, seglog.Options{
		SegmentBytes: opts.SegmentBytes,
		MaxFrame:     maxRecordFrame,
		NoSync:       opts.NoSync,
		FS:           opts.FS,
		Logger:       opts.Logger,
		RepairSealed: true,
		Skip: func(info seglog.SegmentInfo) bool {
			if info.Last {
				return false
			}
			s := &shardSegment{id: info.ID, path: info.Path}
			if loadSealedIndex(s, info.Size, max(l.next, info.ID)) != nil {
				return false
			}
			byID[info.ID] = s
			l.next, l.lastMs = s.last+1, s.lastMs
			return true
		},
		Visit: func(f seglog.Frame) error {
			s := segFor(f.Seg, "")
			b := f.Body
			if len(b) < recordHeader {
				return seglog.ErrInvalid
			}
			counter := binary.LittleEndian.Uint64(b[0:8])
			ms := int64(binary.LittleEndian.Uint64(b[8:16]))
			klen := int(binary.LittleEndian.Uint16(b[16:18]))
			if recordHeader+klen > len(b) || counter < l.next {
				return seglog.ErrInvalid
			}
			off := f.Off - seglog.FrameHeader
			l.indexRecord(s, counter, ms, off)
			s.size = off + seglog.FrameHeader + int64(len(b))
			l.next, l.lastMs = counter+1, ms
			return nil
		},
		NextID:    func() uint64 { return l.appendNext },
		OnDurable: l.publish,
		OnDiscard: l.forgetPending,
		OnSeal:    l.sealed,
	})
	if err != nil {
		return nil, fmt.Errorf("open shard log: %w", err)
	}
	l.log = lg
	for _, info := range lg.Segments() {
		s := segFor(info.ID, info.Path)
		s.path = info.Path
		l.segs = append(l.segs, s)
	}
	l.appendNext, l.appendMs = l.next, l.lastMs
	go l.committer()
	return l, nil
}

// indexRecord updates segment bookkeeping for a record whose frame is at
// off. Callers hold l.mu for writing (or own the log during recovery).
func (l *shardLog) indexRecord(s *shardSegment, counter uint64, ms int64, off int64) {
	if s.last == 0 {
		s.firstMs = ms
		s.index = append(s.index, indexEntry{counter, ms, off})
		s.lastIndexd = off
	} else if off-s.lastIndexd >= l.indexEvery {
		s.index = append(s.index, indexEntry{counter, ms, off})
		s.lastIndexd = off
	}
	s.last = counter
	s.lastMs = ms
}

// shardPending is an append in flight.
type shardPending struct {
	l      *shardLog
	first  uint64
	millis int64
	end    uint64
	err    error
	done   chan struct{}
}

// Wait blocks until the append is durable (or failed) and returns the
// counter of its first entry (the rest follow consecutively) and the
// arrival time, in Unix milliseconds, shared by all its entries.
func (p *shardPending) Wait() (first uint64, arrivalMillis int64, err error) {
	if p.err == nil {
		if p.done != nil {
			<-p.done
		}
		p.err = p.l.log.Sync(p.end) // resolved by now: its outcome
	}
	return p.first, p.millis, p.err
}

// Append stores entries with consecutive counters and returns at once;
// Wait on the result for durability.
func (l *shardLog) Append(entries []shardEntry) *shardPending {
	p := &shardPending{l: l}
	size := 0
	for _, e := range entries {
		size += seglog.FrameHeader + recordHeader + len(e.Key) + len(e.Data)
	}
	now := l.clock.Now().UnixMilli()
	p.end, p.err = l.log.Append(size, func(a *seglog.Appender) {
		// Arrival times never go backwards within a shard, so AT_TIMESTAMP
		// can binary-search the index.
		ms := max(now, l.appendMs)
		p.first, p.millis = l.appendNext, ms
		next := l.appendNext
		l.pendMu.Lock()
		start := len(l.pend)
		for _, e := range entries {
			n := recordHeader + len(e.Key) + len(e.Data)
			b, pos := a.Frame(n)
			binary.LittleEndian.PutUint64(b[0:8], next)
			binary.LittleEndian.PutUint64(b[8:16], uint64(ms))
			binary.LittleEndian.PutUint16(b[16:18], uint16(len(e.Key)))
			copy(b[recordHeader:], e.Key)
			copy(b[recordHeader+len(e.Key):], e.Data)
			l.pend = append(l.pend, pendingRecord{counter: next, millis: ms, seg: pos.Seg,
				off: pos.Off - seglog.FrameHeader, size: seglog.FrameHeader + int64(n)})
			next++
		}
		end := a.End()
		for i := start; i < len(l.pend); i++ {
			l.pend[i].end = end
		}
		l.pendMu.Unlock()
		l.appendNext, l.appendMs = next, ms
	})
	if p.err != nil {
		return p
	}
	p.done = make(chan struct{})
	select {
	case l.syncs <- p:
	case <-l.quit:
		close(p.done) // Wait syncs itself
	}
	return p
}

// committer runs the shard's group commits, so one producer's appends to
// several shards are made durable in parallel.
func (l *shardLog) committer() {
	defer close(l.done)
	batch := make([]*shardPending, 0, shardSyncBatch)
	for {
		var p *shardPending
		select {
		case p = <-l.syncs:
		case <-l.quit:
			for {
				select {
				case p := <-l.syncs:
					close(p.done)
				default:
					return
				}
			}
		}
		batch = append(batch[:0], p)
	drain:
		for len(batch) < shardSyncBatch {
			select {
			case p := <-l.syncs:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		l.log.Sync(l.log.End())
		for _, p := range batch {
			close(p.done)
		}
		clear(batch)
	}
}

// publish makes durable records visible to readers (seglog's OnDurable).
func (l *shardLog) publish(end uint64) {
	l.pendMu.Lock()
	n := sort.Search(len(l.pend), func(i int) bool { return l.pend[i].end > end })
	recs := l.pend[:n]
	l.mu.Lock()
	var s *shardSegment
	for _, r := range recs {
		if s == nil || s.id != r.seg {
			s = l.segment(r.seg)
		}
		l.indexRecord(s, r.counter, r.millis, r.off)
		s.size = r.off + r.size
		l.next, l.lastMs = r.counter+1, r.millis
	}
	if n > 0 {
		close(l.notify)
		l.notify = make(chan struct{})
	}
	l.mu.Unlock()
	l.pend = append(l.pend[:0], l.pend[n:]...)
	l.pendMu.Unlock()
}

// segment returns what readers know of segment id, adding it if new.
// Called with l.mu held for writing.
func (l *shardLog) segment(id uint64) *shardSegment {
	if n := len(l.segs); n > 0 && l.segs[n-1].id == id {
		return l.segs[n-1]
	}
	for _, s := range l.segs {
		if s.id == id {
			return s
		}
	}
	s := &shardSegment{id: id, path: filepath.Join(l.dir, seglog.SegmentName(id, ".seg"))}
	l.segs = append(l.segs, s)
	return s
}

// forgetPending drops appends that failed (seglog's OnDiscard): numbering
// resumes after the last durable record, so counters stay consecutive.
func (l *shardLog) forgetPending() {
	l.pendMu.Lock()
	l.pend = l.pend[:0]
	l.pendMu.Unlock()
	l.mu.RLock()
	l.appendNext, l.appendMs = l.next, l.lastMs
	l.mu.RUnlock()
}

// sealed writes the index sidecar of a segment appends moved past
// (seglog's OnSeal).
func (l *shardLog) sealed(info seglog.SegmentInfo) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, s := range l.segs {
		if s.id == info.ID && s.last != 0 {
			if err := writeSealedIndex(s); err != nil {
				// Only a cache: Open scans the segment instead.
				l.logger.Warn("sealed segment's index not written; the next open scans it", "segment", s.path, "err", err)
			}
		}
	}
}

// Barrier returns once every append made before it is resolved; it fails
// only when the log is closed.
func (l *shardLog) Barrier() error {
	if err := l.log.Sync(l.log.End()); errors.Is(err, seglog.ErrClosed) {
		return err
	}
	return nil
}

// Next returns the counter the next appended record will get; every record
// below it (and not trimmed) is readable.
func (l *shardLog) Next() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.next
}

// Tip returns the next counter and the arrival time of the newest record
// (0 when empty).
func (l *shardLog) Tip() (next uint64, lastMillis int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.next, l.lastMs
}

// Changed returns a channel closed at the next commit, for waiting on new
// records without polling. Check Next after taking the channel.
func (l *shardLog) Changed() <-chan struct{} {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.notify
}

// Wake closes the current Changed channel without a commit, so waiters
// re-check state kept outside the log (a shard being closed by a reshard).
func (l *shardLog) Wake() {
	l.mu.Lock()
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

// First returns the counter of the oldest retained record, or Next if the
// log holds none.
func (l *shardLog) First() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, s := range l.segs {
		if s.last != 0 {
			return s.index[0].counter
		}
	}
	return l.next
}

// SeekTime returns the counter of the first record whose arrival time is at
// or after ms, or Next when there is none.
func (l *shardLog) SeekTime(ms int64) (uint64, error) {
	recs, next, err := l.Read(0, ms, 1, 1, nil)
	if err != nil {
		return 0, err
	}
	if len(recs) > 0 {
		return recs[0].Counter, nil
	}
	return next, nil
}

// Read returns up to maxRecords records (and, past the first, at most
// maxBytes of key and data) with counter >= from and arrival >= minMillis,
// plus the counter to continue from. buf is used for record data when large
// enough; returned records alias it.
func (l *shardLog) Read(from uint64, minMillis int64, maxRecords, maxBytes int, buf []byte) ([]shardRecord, uint64, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, from, errShardLogClosed
	}
	next := l.next
	if from >= next {
		l.mu.RUnlock()
		return nil, from, nil
	}
	// Start at the last segment whose first counter <= from.
	i := max(sort.Search(len(l.segs), func(i int) bool { return l.segs[i].id > from })-1, 0)
	var segs []*shardSegment
	for _, s := range l.segs[i:] {
		// Segments wholly older than minMillis cannot hold an answer.
		if s.last == 0 || s.lastMs < minMillis {
			continue
		}
		segs = append(segs, s)
	}
	l.mu.RUnlock()
	var out []shardRecord
	pos := from
	for _, s := range segs {
		if len(out) >= maxRecords || maxBytes <= 0 {
			break
		}
		recs, p, n, err := l.readSegment(s, pos, minMillis, maxRecords-len(out), maxBytes, len(out) == 0, buf)
		if err != nil {
			return out, pos, err
		}
		pos = p
		maxBytes -= n
		out = append(out, recs...)
		buf = nil
	}
	if len(out) == 0 {
		// Everything between from and the tip was trimmed or filtered.
		pos = next
	}
	return out, pos, nil
}

// readSegment reads records of s with counter >= from and arrival >=
// minMillis. It returns the records, the counter to continue from and the
// bytes of key and data returned. When first is set, one record is returned
// even if it alone exceeds maxBytes.
func (l *shardLog) readSegment(s *shardSegment, from uint64, minMillis int64, maxRecords, maxBytes int, first bool, buf []byte) ([]shardRecord, uint64, int, error) {
	l.mu.RLock()
	size := s.size
	// Start at the last index entry that cannot be past the first wanted
	// record: counter <= from, or arrival before minMillis (arrival times
	// never decrease within a shard).
	j := sort.Search(len(s.index), func(j int) bool {
		e := s.index[j]
		return e.counter > from && e.millis >= minMillis
	}) - 1
	var off int64
	if j >= 0 {
		off = s.index[j].off
	}
	l.mu.RUnlock()
	var out []shardRecord
	pos := from
	total := 0
	const chunk = 256 << 10
	need := 0
	for off < size && len(out) < maxRecords && total < maxBytes {
		want := min(size-off, int64(max(chunk, need)))
		if int64(cap(buf)) < want {
			buf = make([]byte, want)
		}
		b := buf[:want]
		if _, err := l.log.ReadAt(s.id, b, off); err != nil && err != io.EOF {
			l.mu.RLock()
			trimmed := s.removed
			l.mu.RUnlock()
			if trimmed {
				// Retention deleted the segment under the read: its
				// records are gone, as if trimmed before the read began.
				return out, pos, total, nil
			}
			return out, pos, total, fmt.Errorf("read segment: %w", err)
		}
		used := 0
		for used+seglog.FrameHeader <= len(b) && len(out) < maxRecords && total < maxBytes {
			n := int(binary.LittleEndian.Uint32(b[used : used+4]))
			if used+seglog.FrameHeader+n > len(b) {
				if used == 0 && want == size-off {
					return out, pos, total, fmt.Errorf("read segment %s: frame at offset %d overruns committed data", s.path, off)
				}
				need = seglog.FrameHeader + n // a frame larger than the chunk
				break
			}
			pl := b[used+seglog.FrameHeader : used+seglog.FrameHeader+n]
			if seglog.Checksum(pl) != binary.LittleEndian.Uint32(b[used+4:used+8]) {
				return out, pos, total, fmt.Errorf("read segment %s: checksum mismatch at offset %d", s.path, off+int64(used))
			}
			counter := binary.LittleEndian.Uint64(pl[0:8])
			ms := int64(binary.LittleEndian.Uint64(pl[8:16]))
			if counter < from || ms < minMillis {
				used += seglog.FrameHeader + n
				pos = max(pos, counter+1)
				continue
			}
			klen := int(binary.LittleEndian.Uint16(pl[16:18]))
			sz := n - recordHeader
			if (len(out) > 0 || !first) && total+sz > maxBytes {
				return out, pos, total, nil
			}
			used += seglog.FrameHeader + n
			out = append(out, shardRecord{
				Counter:       counter,
				ArrivalMillis: ms,
				Key:           string(pl[recordHeader : recordHeader+klen]),
				Data:          pl[recordHeader+klen:],
			})
			total += sz
			pos = counter + 1
		}
		off += int64(used)
		if used > 0 {
			// Returned records alias b; the next chunk needs fresh memory.
			buf = nil
		}
	}
	return out, pos, total, nil
}

// TrimBefore deletes whole segments whose newest record arrived before
// cutoffMillis. The newest segment is always kept: its name and records
// carry the counter the log resumes from after a restart.
func (l *shardLog) TrimBefore(cutoffMillis int64) (int, error) {
	active := l.log.Active()
	l.mu.Lock()
	var drop []*shardSegment
	keep := l.segs[:0:0]
	for i, s := range l.segs {
		if i < len(l.segs)-1 && s.id != active && s.lastMs < cutoffMillis {
			s.removed = true
			drop = append(drop, s)
			continue
		}
		keep = append(keep, s)
	}
	l.segs = keep
	l.mu.Unlock()
	for _, s := range drop {
		if err := l.log.Remove(s.id); err != nil {
			return 0, fmt.Errorf("remove expired segment: %w", err)
		}
		os.Remove(idxPath(s.path))
	}
	return len(drop), nil
}

// Close makes pending appends durable, stops the committer and closes the
// files.
func (l *shardLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	if err := l.log.Close(); err != nil {
		return fmt.Errorf("close shard log: %w", err)
	}
	return nil
}

// abandon stops the log as a crash would. For tests.
func (l *shardLog) abandon() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.done
	l.log.Abandon()
}

// Segments returns the segment file paths, oldest first (for tests and
// diagnostics).
func (l *shardLog) Segments() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]string, len(l.segs))
	for i, s := range l.segs {
		out[i] = s.path
	}
	return out
}

// Dir returns the log's directory.
func (l *shardLog) Dir() string { return l.dir }
