// Package shardlog is the durable storage of one Kinesis shard: an
// append-only sequence of segment files holding CRC-checked record frames,
// written by a single goroutine that batches concurrent appends into one
// write and one fsync (group commit).
//
// A record becomes visible to readers, and its append is acknowledged, only
// after the fsync that covers it has returned; so anything a reader ever saw
// or a producer was told is durable survives kill -9. At Open a torn or
// corrupt tail (a write cut short by a crash) is detected by length and
// CRC32C, truncated away and never served.
//
// A batch whose write or fsync fails is cut off the segment again and its
// appends fail; the log keeps accepting appends (see Log.fail), so a full
// disk stops writes only until space returns.
//
// Memory stays flat as the log grows: records live only on disk; memory
// holds, per segment, a sparse index (one entry per IndexEvery bytes) used
// to start each read near its target with ReadAt. Sealed segments keep
// that index in a sidecar file (sealed.go), so Open reads only the newest
// segment in full.
package shardlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Frame layout: payloadLen u32 | crc32c(payload) u32 | payload, where
// payload = counter u64 | arrivalMillis i64 | keyLen u16 | key | data.
const (
	frameHeader   = 8
	payloadHeader = 18
	// maxPayload bounds a frame so a corrupt length cannot make recovery
	// allocate gigabytes; real records are at most ~1 MiB.
	maxPayload = 16 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned for appends to, or reads from, a closed log.
var ErrClosed = errors.New("shard log closed")

// Entry is one record to append. The log keeps no reference to Key or Data
// after Append's Pending has completed.
type Entry struct {
	Key  string
	Data []byte
}

// Record is one stored record.
type Record struct {
	Counter       uint64
	ArrivalMillis int64
	Key           string
	Data          []byte
}

// Options tunes a log. Zero values pick defaults.
type Options struct {
	// SegmentBytes is the size after which appends roll to a new segment
	// file; retention deletes whole segments. Default 64 MiB.
	SegmentBytes int64
	// IndexEvery is the byte distance between sparse index entries; a read
	// scans at most about this much before reaching its first record.
	// Default 32 KiB.
	IndexEvery int64
	// Now supplies arrival times; default time.Now.
	Now func() time.Time
	// NoSync skips fsync (tests of non-durability concerns only).
	NoSync bool
	// FS is the file layer segments are read and written through; default
	// OSFS. Tests pass a FaultFS to fail writes, fsyncs and truncations.
	FS FS
}

type indexEntry struct {
	counter uint64
	millis  int64
	off     int64
}

type segment struct {
	path  string
	f     File
	first uint64 // counter of the first record this segment may hold
	// Guarded by Log.mu; last/lastMillis/size describe committed data.
	last       uint64 // 0 if empty
	firstMs    int64
	lastMs     int64
	size       int64
	index      []indexEntry
	refs       atomic.Int32
	removed    atomic.Bool
	closeOnce  sync.Once
	lastIndexd int64
}

func (s *segment) release() {
	if s.refs.Add(-1) == 0 && s.removed.Load() {
		s.closeOnce.Do(func() { s.f.Close() })
	}
}

// Log is one shard's durable record log. It is safe for concurrent use.
type Log struct {
	dir  string
	opts Options

	reqs    chan *Pending
	stopped chan struct{}
	quit    chan struct{}

	mu     sync.RWMutex
	segs   []*segment
	next   uint64 // counter the next record will get
	lastMs int64
	notify chan struct{}
	closed bool

	// Owned by the writer goroutine (and Close after it stopped): a segment
	// whose file may hold bytes past its committed size, left by a failed
	// append whose cleanup also failed. No append is accepted until those
	// bytes are gone (see discardTail).
	dirty    *segment
	dirtyErr error
	recs     []framePos // commit's scratch
}

// framePos is where commit put a record.
type framePos struct {
	counter uint64
	off     int64
}

// Open opens (creating if needed) the log in dir, recovering committed
// records and truncating a torn tail.
func Open(dir string, opts Options) (*Log, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 64 << 20
	}
	if opts.IndexEvery <= 0 {
		opts.IndexEvery = 32 << 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create shard dir: %w", err)
	}
	l := &Log{
		dir:     dir,
		opts:    opts,
		reqs:    make(chan *Pending, 1024),
		stopped: make(chan struct{}),
		quit:    make(chan struct{}),
		notify:  make(chan struct{}),
		next:    1,
	}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, err
	}
	go l.writer()
	return l, nil
}

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

func (l *Log) recover() error {
	names, err := filepath.Glob(filepath.Join(l.dir, "*.seg"))
	if err != nil {
		return fmt.Errorf("list segments: %w", err)
	}
	type named struct {
		first uint64
		path  string
	}
	var found []named
	for _, p := range names {
		n, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(p), ".seg"), 10, 64)
		if err != nil {
			continue // not ours
		}
		found = append(found, named{n, p})
	}
	sort.Slice(found, func(i, j int) bool { return found[i].first < found[j].first })
	for i, n := range found {
		f, err := l.opts.FS.OpenFile(n.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open segment: %w", err)
		}
		s := &segment{path: n.path, f: f, first: n.first}
		l.segs = append(l.segs, s)
		if n.first > l.next {
			l.next = n.first
		}
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("stat segment: %w", err)
		}
		if i < len(found)-1 && loadSealedIndex(s, st.Size(), l.next) == nil {
			// A sealed segment with a valid index: no need to read it.
			l.next = s.last + 1
			l.lastMs = s.lastMs
			continue
		}
		good, err := l.scan(s)
		if err != nil {
			return err
		}
		if good < st.Size() {
			// A torn or corrupt tail: never acknowledged (acks follow the
			// fsync of whole batches), so drop it before anyone reads it.
			if i != len(found)-1 {
				// Later segments exist, so this was not a crash tail; keep
				// what is valid and say so rather than refuse to start.
				fmt.Fprintf(os.Stderr, "shardlog: %s: corrupt data at offset %d, truncating\n", n.path, good)
			}
			if err := f.Truncate(good); err != nil {
				return fmt.Errorf("truncate torn tail: %w", err)
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("sync truncated segment: %w", err)
			}
		}
		s.size = good
	}
	return nil
}

// scan validates s frame by frame, builds its sparse index, and returns the
// offset just past the last good frame.
func (l *Log) scan(s *segment) (int64, error) {
	r := io.NewSectionReader(s.f, 0, 1<<62)
	br := bufio.NewReaderSize(r, 1<<20)
	var off int64
	var hdr [frameHeader]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return off, nil
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n < payloadHeader || n > maxPayload {
			return off, nil
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(br, payload); err != nil {
			return off, nil
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return off, nil
		}
		counter := binary.LittleEndian.Uint64(payload[0:8])
		ms := int64(binary.LittleEndian.Uint64(payload[8:16]))
		klen := int(binary.LittleEndian.Uint16(payload[16:18]))
		if payloadHeader+klen > int(n) || counter < l.next {
			return off, nil
		}
		l.indexRecord(s, counter, ms, off)
		l.next = counter + 1
		l.lastMs = ms
		off += frameHeader + int64(n)
	}
}

// indexRecord updates segment bookkeeping for a record at off. Callers hold
// l.mu for writing (or own the log exclusively during recovery).
func (l *Log) indexRecord(s *segment, counter uint64, ms int64, off int64) {
	if s.last == 0 {
		s.firstMs = ms
		s.index = append(s.index, indexEntry{counter, ms, off})
		s.lastIndexd = off
	} else if off-s.lastIndexd >= l.opts.IndexEvery {
		s.index = append(s.index, indexEntry{counter, ms, off})
		s.lastIndexd = off
	}
	s.last = counter
	s.lastMs = ms
}

// Pending is an append in flight.
type Pending struct {
	entries []Entry
	first   uint64
	millis  int64
	err     error
	done    chan struct{}
}

// Wait blocks until the append is durable (or failed) and returns the
// counter of its first entry (the rest follow consecutively) and the
// arrival time, in Unix milliseconds, shared by all its entries.
func (p *Pending) Wait() (first uint64, arrivalMillis int64, err error) {
	<-p.done
	return p.first, p.millis, p.err
}

// Append queues entries for the writer and returns at once; Wait on the
// result for durability. Entries get consecutive counters in order.
func (l *Log) Append(entries []Entry) *Pending {
	p := &Pending{entries: entries, done: make(chan struct{})}
	select {
	case l.reqs <- p:
	case <-l.quit:
		p.err = ErrClosed
		close(p.done)
	}
	return p
}

// Barrier returns once every append queued before it is durable.
func (l *Log) Barrier() error {
	_, _, err := l.Append(nil).Wait()
	return err
}

// maxBatchBytes bounds one group commit so a burst of large appends does
// not hold every producer's acknowledgement behind one huge write.
const maxBatchBytes = 8 << 20

func (l *Log) writer() {
	defer close(l.stopped)
	var batch []*Pending
	var buf []byte
	for {
		var first *Pending
		select {
		case first = <-l.reqs:
		case <-l.quit:
			// Drain what was queued before Close so no caller hangs.
			for {
				select {
				case p := <-l.reqs:
					p.err = ErrClosed
					close(p.done)
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
		size := 0
	drain:
		for size < maxBatchBytes {
			select {
			case p := <-l.reqs:
				batch = append(batch, p)
				for _, e := range p.entries {
					size += len(e.Data)
				}
			default:
				break drain
			}
		}
		buf = l.commit(batch, buf[:0])
		for _, p := range batch {
			close(p.done)
		}
		clear(batch)
		if cap(buf) > 2*maxBatchBytes {
			buf = nil
		}
	}
}

// commit writes and syncs one batch, then publishes it to readers. A batch
// that cannot be made durable fails as a whole, and the log is put back to
// its last committed state so the next batch can succeed (see fail).
func (l *Log) commit(batch []*Pending, buf []byte) []byte {
	if l.dirty != nil {
		// A failed append left bytes we could not remove; appending after
		// them could make them readable at the next Open.
		if err := l.discardTail(l.dirty); err != nil {
			err = fmt.Errorf("%w (refusing appends until it is removed: %w)", l.dirtyErr, err)
			for _, p := range batch {
				p.err = err
			}
			return buf
		}
		l.dirty, l.dirtyErr = nil, nil
	}
	l.mu.RLock()
	next := l.next
	lastMs := l.lastMs
	cur := l.segs
	l.mu.RUnlock()
	ms := l.opts.Now().UnixMilli()
	// Arrival times never go backwards within a shard, so AT_TIMESTAMP can
	// binary-search the index.
	if ms < lastMs {
		ms = lastMs
	}
	var seg *segment
	if len(cur) > 0 {
		seg = cur[len(cur)-1]
	}
	n := 0
	for _, p := range batch {
		n += len(p.entries)
	}
	if n == 0 {
		return buf // a barrier: everything before it is already committed
	}
	if seg == nil || (seg.size > 0 && seg.size >= l.opts.SegmentBytes) {
		s, err := l.newSegment(next)
		if err != nil {
			// Nothing was written to a segment readers know of.
			l.fail(batch, nil, err)
			return buf
		}
		if seg != nil {
			// seg is sealed: only this goroutine ever wrote its fields.
			l.mu.RLock()
			err := writeSealedIndex(seg)
			l.mu.RUnlock()
			if err != nil {
				// Only a cache: Open scans the segment instead.
				fmt.Fprintf(os.Stderr, "shardlog: index of sealed %s: %v\n", seg.path, err)
			}
		}
		seg = s
	}
	recs := l.recs[:0]
	base := seg.size
	for _, p := range batch {
		p.first = next
		p.millis = ms
		for _, e := range p.entries {
			off := base + int64(len(buf))
			plen := payloadHeader + len(e.Key) + len(e.Data)
			start := len(buf)
			buf = slices.Grow(buf, frameHeader+plen)[:start+frameHeader+plen]
			fr := buf[start:]
			binary.LittleEndian.PutUint32(fr[0:4], uint32(plen))
			pl := fr[frameHeader:]
			binary.LittleEndian.PutUint64(pl[0:8], next)
			binary.LittleEndian.PutUint64(pl[8:16], uint64(ms))
			binary.LittleEndian.PutUint16(pl[16:18], uint16(len(e.Key)))
			copy(pl[payloadHeader:], e.Key)
			copy(pl[payloadHeader+len(e.Key):], e.Data)
			binary.LittleEndian.PutUint32(fr[4:8], crc32.Checksum(pl, castagnoli))
			recs = append(recs, framePos{next, off})
			next++
		}
	}
	if _, err := seg.f.WriteAt(buf, base); err != nil {
		l.fail(batch, seg, fmt.Errorf("write segment %s: %w", seg.path, err))
		return buf
	}
	if !l.opts.NoSync {
		if err := seg.f.Sync(); err != nil {
			// After a failed fsync the state of this batch's pages is
			// unknowable (Linux may have dropped them and will not report
			// it again), so a later fsync proves nothing about them: the
			// batch is treated as lost and cut off.
			l.fail(batch, seg, fmt.Errorf("sync segment %s: %w", seg.path, err))
			return buf
		}
	}
	l.recs = recs // reused by the next commit
	l.mu.Lock()
	for _, r := range recs {
		l.indexRecord(seg, r.counter, ms, r.off)
	}
	seg.size = base + int64(len(buf))
	l.next = next
	l.lastMs = ms
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
	return buf
}

// fail fails every append of batch with err after cutting seg (when
// non-nil) back to its committed size, the end of the last batch whose
// fsync succeeded. Nothing of batch was published, so no reader saw it;
// once the cut is durable nothing of it can reappear at Open either. If the
// cut fails, the log refuses appends and retries it before each batch.
// Barriers in batch succeed when the log is consistent again: every append
// before them has been resolved.
func (l *Log) fail(batch []*Pending, seg *segment, err error) {
	if seg != nil {
		if derr := l.discardTail(seg); derr != nil {
			l.dirty, l.dirtyErr = seg, err
			err = fmt.Errorf("%w (and removing the partial write failed, so appends are refused until it is: %w)", err, derr)
			for _, p := range batch {
				p.err = err
			}
			return
		}
	}
	for _, p := range batch {
		if len(p.entries) > 0 {
			p.err = err
		}
	}
}

// discardTail truncates s to its committed size, fsyncs that, and checks
// that the committed tail still reads back intact. Called by the writer
// only, so s's bookkeeping is stable.
func (l *Log) discardTail(s *segment) error {
	if err := s.f.Truncate(s.size); err != nil {
		// Keep a crash from resurrecting the failed batch meanwhile: a zero
		// frame header at the committed end stops Open's scan there. An
		// overwrite of allocated blocks needs no free space.
		var zero [frameHeader]byte
		if _, werr := s.f.WriteAt(zero[:], s.size); werr == nil && !l.opts.NoSync {
			s.f.Sync()
		}
		return fmt.Errorf("truncate %s to %d: %w", s.path, s.size, err)
	}
	if !l.opts.NoSync {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("sync truncated %s: %w", s.path, err)
		}
	}
	return l.verifyTail(s)
}

// verifyTail re-reads s from its last index entry to its committed size
// and checks every frame's length and checksum, so appends resume only on
// a segment whose end is where the bookkeeping says.
func (l *Log) verifyTail(s *segment) error {
	st, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", s.path, err)
	}
	if st.Size() != s.size {
		return fmt.Errorf("verify %s: size %d after truncation, want %d", s.path, st.Size(), s.size)
	}
	var off int64
	if n := len(s.index); n > 0 {
		off = s.index[n-1].off
	}
	b := make([]byte, s.size-off)
	if _, err := s.f.ReadAt(b, off); err != nil && err != io.EOF {
		return fmt.Errorf("verify %s: %w", s.path, err)
	}
	for len(b) > 0 {
		if len(b) < frameHeader {
			return fmt.Errorf("verify %s: partial frame header at %d", s.path, s.size-int64(len(b)))
		}
		n := int(binary.LittleEndian.Uint32(b[0:4]))
		if n < payloadHeader || frameHeader+n > len(b) ||
			crc32.Checksum(b[frameHeader:frameHeader+n], castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
			return fmt.Errorf("verify %s: committed frame at %d does not read back", s.path, s.size-int64(len(b)))
		}
		b = b[frameHeader+n:]
	}
	return nil
}

func (l *Log) newSegment(first uint64) (*segment, error) {
	path := filepath.Join(l.dir, segName(first))
	f, err := l.opts.FS.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	// The new file's directory entry must be durable before records in it
	// are acknowledged.
	if !l.opts.NoSync {
		if err := l.opts.FS.SyncDir(l.dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("create segment: %w", err)
		}
	}
	s := &segment{path: path, f: f, first: first}
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	return s, nil
}

// Next returns the counter the next appended record will get; every record
// below it (and not trimmed) is readable.
func (l *Log) Next() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.next
}

// Tip returns the next counter and the arrival time of the newest record
// (0 when empty).
func (l *Log) Tip() (next uint64, lastMillis int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.next, l.lastMs
}

// Changed returns a channel closed at the next commit, for waiting on new
// records without polling. Check Next after taking the channel.
func (l *Log) Changed() <-chan struct{} {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.notify
}

// Wake closes the current Changed channel without a commit, so waiters
// re-check state kept outside the log (a shard being closed by a reshard).
func (l *Log) Wake() {
	l.mu.Lock()
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

// First returns the counter of the oldest retained record, or Next if the
// log holds none.
func (l *Log) First() uint64 {
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
func (l *Log) SeekTime(ms int64) (uint64, error) {
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
func (l *Log) Read(from uint64, minMillis int64, maxRecords, maxBytes int, buf []byte) ([]Record, uint64, error) {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, from, ErrClosed
	}
	next := l.next
	if from >= next {
		l.mu.RUnlock()
		return nil, from, nil
	}
	// Start at the last segment whose first counter <= from.
	i := max(sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > from })-1, 0)
	var segs []*segment
	for _, s := range l.segs[i:] {
		// Segments wholly older than minMillis cannot hold an answer.
		if s.last == 0 || s.lastMs < minMillis {
			continue
		}
		s.refs.Add(1)
		segs = append(segs, s)
	}
	l.mu.RUnlock()
	defer func() {
		for _, s := range segs {
			s.release()
		}
	}()
	var out []Record
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
func (l *Log) readSegment(s *segment, from uint64, minMillis int64, maxRecords, maxBytes int, first bool, buf []byte) ([]Record, uint64, int, error) {
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
	var out []Record
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
		if _, err := s.f.ReadAt(b, off); err != nil && err != io.EOF {
			return out, pos, total, fmt.Errorf("read segment: %w", err)
		}
		used := 0
		for used+frameHeader <= len(b) && len(out) < maxRecords && total < maxBytes {
			n := int(binary.LittleEndian.Uint32(b[used : used+4]))
			if used+frameHeader+n > len(b) {
				if used == 0 && want == size-off {
					return out, pos, total, fmt.Errorf("read segment %s: frame at offset %d overruns committed data", s.path, off)
				}
				need = frameHeader + n // a frame larger than the chunk
				break
			}
			pl := b[used+frameHeader : used+frameHeader+n]
			if crc32.Checksum(pl, castagnoli) != binary.LittleEndian.Uint32(b[used+4:used+8]) {
				return out, pos, total, fmt.Errorf("read segment %s: checksum mismatch at offset %d", s.path, off+int64(used))
			}
			counter := binary.LittleEndian.Uint64(pl[0:8])
			ms := int64(binary.LittleEndian.Uint64(pl[8:16]))
			if counter < from || ms < minMillis {
				used += frameHeader + n
				pos = max(pos, counter+1)
				continue
			}
			klen := int(binary.LittleEndian.Uint16(pl[16:18]))
			sz := n - payloadHeader
			if (len(out) > 0 || !first) && total+sz > maxBytes {
				return out, pos, total, nil
			}
			used += frameHeader + n
			out = append(out, Record{
				Counter:       counter,
				ArrivalMillis: ms,
				Key:           string(pl[payloadHeader : payloadHeader+klen]),
				Data:          pl[payloadHeader+klen:],
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
func (l *Log) TrimBefore(cutoffMillis int64) (int, error) {
	l.mu.Lock()
	var drop []*segment
	keep := l.segs[:0:0]
	for i, s := range l.segs {
		if i < len(l.segs)-1 && s.lastMs < cutoffMillis {
			drop = append(drop, s)
			continue
		}
		keep = append(keep, s)
	}
	l.segs = keep
	l.mu.Unlock()
	for _, s := range drop {
		if err := os.Remove(s.path); err != nil {
			return 0, fmt.Errorf("remove expired segment: %w", err)
		}
		os.Remove(idxPath(s.path))
		s.removed.Store(true)
		if s.refs.Load() == 0 {
			s.closeOnce.Do(func() { s.f.Close() })
		}
	}
	return len(drop), nil
}

// Close stops the writer, failing appends still queued, and closes files.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.stopped
	var err error
	if l.dirty != nil {
		// A last chance to remove a failed append's bytes before Open could
		// find them.
		if derr := l.discardTail(l.dirty); derr != nil {
			err = fmt.Errorf("close shard log: %w", derr)
		}
	}
	l.closeFiles()
	return err
}

// abandon stops the log as a crash would: no cleanup of a failed append,
// files closed as the kernel would close them. For tests.
func (l *Log) abandon() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	close(l.quit)
	<-l.stopped
	l.closeFiles()
}

func (l *Log) closeFiles() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.segs {
		s.closeOnce.Do(func() { s.f.Close() })
	}
}

// Segments returns the segment file paths, oldest first (for tests and
// diagnostics).
func (l *Log) Segments() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]string, len(l.segs))
	for i, s := range l.segs {
		out[i] = s.path
	}
	return out
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }
