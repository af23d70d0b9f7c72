// Package seglog is Sluice's durable log: an append-only sequence of
// segment files holding CRC-checked frames, made durable by group commit.
// The embedded Kinesis stream keeps each shard's records in one (streams),
// the delivery stream its write-ahead log (sinks/firehose); what a frame's
// body means is theirs.
//
// A frame is: body length u32 | CRC-32C of the body u32 | body, little
// endian. Appends copy frames into memory under one lock and get their
// position at once; Sync makes them durable. Concurrent Syncs share one
// write and one fsync: whoever takes the sync lock writes and fsyncs
// everything appended so far, and the others find their position already
// covered (group commit). An append is durable, and may be acknowledged,
// only once a Sync covering it has returned nil, so what a caller was told
// survives kill -9.
//
// At Open, a torn or corrupt tail (a write cut short by a crash) is found
// by length and checksum and cut away before anyone reads it.
//
// A group whose write or fsync fails is cut off the segment again and
// every append not yet durable fails; the log then keeps accepting appends
// (a full disk stops writes only until space returns) unless
// Options.StopOnFailure asks it to refuse everything until reopened. If
// the cut itself fails, appends are refused until a retried cut succeeds.
//
// Tests put a FaultFS (fault.go) under a log to fill the disk or fail
// writes, fsyncs, truncations and directory syncs; the log's own crash and
// fault tests are beside it, so its consumers test only what their frames
// mean.
package seglog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluice-dev/sluice/internal/fsutil"
)

// FrameHeader is the size of a frame's header: body length and checksum.
const FrameHeader = 8

// maxSpare bounds the append buffer kept for the next group, so one burst
// does not pin its memory for good.
const maxSpare = 16 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned for appends to, syncs of, or reads from a closed
// log.
var ErrClosed = errors.New("log closed")

// ErrInvalid, returned by a Visit function, marks a frame that is intact
// but cannot follow the ones before it (a consumer's own sequence check):
// recovery treats it, and everything after it, as a torn tail.
var ErrInvalid = errors.New("frame does not follow its predecessors")

// Checksum is a frame's checksum of body, for consumers that read frames
// back themselves.
func Checksum(body []byte) uint32 { return crc32.Checksum(body, castagnoli) }

// AppendFrame appends a frame holding body to dst, for a consumer that
// writes a segment file outside a Log (a format upgrade).
func AppendFrame(dst, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)))
	dst = binary.LittleEndian.AppendUint32(dst, Checksum(body))
	return append(dst, body...)
}

// Frame is one frame read back at recovery.
type Frame struct {
	Seg  uint64 // segment ID
	Off  int64  // file offset of the body
	Body []byte // valid only during the Visit call
}

// Pos is where an appended frame's body is.
type Pos struct {
	Seg uint64
	Off int64
}

// SegmentInfo describes a segment file.
type SegmentInfo struct {
	ID   uint64
	Path string
	Size int64
	Last bool // the newest segment
}

// Options tunes a log. Zero values pick defaults.
type Options struct {
	// Suffix ends every segment file name, <ID as 20 digits><Suffix>.
	// Default ".seg".
	Suffix string
	// SegmentBytes is the size past which an append starts a new segment
	// (the first append to a segment always goes in). Default 64 MiB.
	SegmentBytes int64
	// MaxFrame bounds a frame's body, so a corrupt length cannot make
	// recovery allocate gigabytes. Default 1 GiB.
	MaxFrame int
	// NoSync skips fsync (tests of non-durability concerns only).
	NoSync bool
	// FS is the file layer segments are read and written through; default
	// OSFS.
	FS FS
	// Logger receives the log's warnings; default slog.Default().
	Logger *slog.Logger

	// Fresh makes Open start a new segment after the existing ones
	// instead of appending to the newest.
	Fresh bool
	// NextID returns the ID of a new segment, which must exceed every
	// existing one. Default: one more than the newest, or 1. Called with
	// the append lock held.
	NextID func() uint64
	// Head, if set, returns the body of the first frame of every new
	// segment. Called with the append lock held.
	Head func() []byte
	// StopOnFailure refuses every append and sync after a failed write,
	// fsync or segment creation, until the log is reopened.
	StopOnFailure bool
	// RepairSealed cuts damage found in a segment other than the newest at
	// Open (with a warning) instead of refusing to open.
	RepairSealed bool

	// Skip, at Open, reports that a segment needs no scan (its consumer
	// holds a valid summary of it). Skipped segments are taken as whole.
	Skip func(SegmentInfo) bool
	// Visit, at Open, receives every intact frame, oldest first.
	Visit func(Frame) error
	// OnDurable is called, serially, after a group commit made every
	// append up to end durable and before the Syncs it covers return.
	OnDurable func(end uint64)
	// OnDiscard is called, with the append lock held, after appends that
	// were not yet durable failed and were cut off: the consumer forgets
	// what it numbered after the durable point.
	OnDiscard func()
	// OnSeal is called, with the append lock held, when appends move on to
	// a new segment; the sealed one is durable and never changes again.
	OnSeal func(SegmentInfo)
}

type segment struct {
	id   uint64
	path string
	f    File
	// Guarded by Log.mu.
	size    int64 // bytes appended, buffered ones included
	written int64 // bytes handed to the file
	durable int64 // bytes covered by a successful fsync
	tail    int64 // offset of the first frame of the last durable group

	refs      atomic.Int32 // readers between lookup and ReadAt
	removed   atomic.Bool
	closeOnce sync.Once
}

func (s *segment) info() SegmentInfo {
	return SegmentInfo{ID: s.id, Path: s.path, Size: s.size}
}

func (s *segment) close() { s.closeOnce.Do(func() { s.f.Close() }) }

func (s *segment) release() {
	if s.refs.Add(-1) == 0 && s.removed.Load() {
		s.close()
	}
}

// failure is a range of appends, by end position, that failed.
type failure struct {
	lo, hi uint64 // lo exclusive
	err    error
}

// Log is a segmented frame log. It is safe for concurrent use.
type Log struct {
	dir  string
	opts Options

	syncMu sync.Mutex // held by the group commit in progress

	mu       sync.RWMutex
	segs     []*segment
	buf      []byte // pending bytes of the active segment, from its written
	spare    []byte
	frames   []int  // Append's scratch: frame starts in buf
	end      uint64 // logical end of everything appended since Open
	failures []failure
	stopped  error // StopOnFailure's sticky error, or ErrClosed
	dirty    error // a failed cut, retried before the next append

	synced atomic.Uint64 // every append ending at or before it is resolved
}

// Open opens (creating if needed) the log in dir: it validates the
// segments, cuts a torn tail, passes every intact frame to Visit and, with
// Fresh, starts a new segment.
func Open(dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if err := fsutil.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	l := &Log{dir: dir, opts: opts}
	if err := l.recover(); err != nil {
		l.closeFiles()
		return nil, err
	}
	if opts.Fresh {
		l.mu.Lock()
		err := l.newSegment()
		l.mu.Unlock()
		if err != nil {
			l.closeFiles()
			return nil, err
		}
	}
	return l, nil
}

func (o Options) withDefaults() Options {
	if o.Suffix == "" {
		o.Suffix = ".seg"
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = 1 << 30
	}
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// SegmentName is the file name of segment id.
func SegmentName(id uint64, suffix string) string { return fmt.Sprintf("%020d%s", id, suffix) }

// List returns the IDs of the segments in dir, ascending.
func List(dir, suffix string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var ids []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, suffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, suffix), 10, 64)
		if err != nil {
			continue // not ours
		}
		ids = append(ids, n)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

func (l *Log) recover() error {
	ids, err := List(l.dir, l.opts.Suffix)
	if err != nil {
		return err
	}
	for i, id := range ids {
		path := filepath.Join(l.dir, SegmentName(id, l.opts.Suffix))
		f, err := l.opts.FS.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open segment %s: %w", path, err)
		}
		s := &segment{id: id, path: path, f: f}
		l.segs = append(l.segs, s)
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("stat segment %s: %w", path, err)
		}
		last := i == len(ids)-1
		info := SegmentInfo{ID: id, Path: path, Size: st.Size(), Last: last}
		size := st.Size()
		if l.opts.Skip == nil || !l.opts.Skip(info) {
			if size, err = l.recoverSegment(f, info, l.opts.Visit); err != nil {
				return err
			}
		}
		s.size, s.written, s.durable = size, size, size
	}
	return nil
}

// recoverSegment scans a segment and cuts what follows its last intact
// frame: a crash's torn tail in the newest segment; damage elsewhere only
// with RepairSealed. It returns the segment's valid size.
func (l *Log) recoverSegment(f File, info SegmentInfo, visit func(Frame) error) (int64, error) {
	good, err := scan(f, info.ID, l.opts.MaxFrame, visit)
	if err != nil {
		return 0, fmt.Errorf("segment %s: %w", info.Path, err)
	}
	if good == info.Size {
		return good, nil
	}
	if !info.Last {
		if !l.opts.RepairSealed {
			return 0, fmt.Errorf("segment %s is damaged at offset %d, before the newest segment", info.Path, good)
		}
		// Later segments exist, so this was not a crash tail; keep what is
		// valid and say so rather than refuse to start.
		l.opts.Logger.Warn("damaged log segment; cutting it at the last intact frame", "segment", info.Path, "offset", good)
	}
	// A torn or corrupt tail was never acknowledged (acknowledgements
	// follow the fsync of whole groups), so drop it before anyone reads it.
	if err := f.Truncate(good); err != nil {
		return 0, fmt.Errorf("cut torn tail of %s: %w", info.Path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync cut segment %s: %w", info.Path, err)
	}
	return good, nil
}

// ReadSegment passes every intact frame of segment id in dir to visit,
// cutting a torn tail when last (the newest segment) or, elsewhere, when
// opts.RepairSealed. It is recovery for a consumer that replays its log
// before opening it for appends (then with an Options.Skip that skips
// every segment).
func ReadSegment(dir string, id uint64, opts Options, last bool, visit func(Frame) error) error {
	opts = opts.withDefaults()
	path := filepath.Join(dir, SegmentName(id, opts.Suffix))
	f, err := opts.FS.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open segment %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat segment %s: %w", path, err)
	}
	l := &Log{dir: dir, opts: opts}
	_, err = l.recoverSegment(f, SegmentInfo{ID: id, Path: path, Size: st.Size(), Last: last}, visit)
	return err
}

// scan visits the intact frames of f and returns the offset just past the
// last one. Only visit's errors other than ErrInvalid are returned.
func scan(f File, id uint64, maxFrame int, visit func(Frame) error) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 1<<20)
	var off int64
	var hdr [FrameHeader]byte
	var body []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return off, nil
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n == 0 || n > uint32(maxFrame) {
			return off, nil
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(br, body); err != nil {
			return off, nil
		}
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return off, nil
		}
		if visit != nil {
			if err := visit(Frame{Seg: id, Off: off + FrameHeader, Body: body}); err != nil {
				if errors.Is(err, ErrInvalid) {
					return off, nil
				}
				return off, fmt.Errorf("frame at offset %d: %w", off, err)
			}
		}
		off += FrameHeader + int64(n)
	}
}

func (l *Log) active() *segment {
	if len(l.segs) == 0 {
		return nil
	}
	return l.segs[len(l.segs)-1]
}

// Appender reserves frames inside Append.
type Appender struct {
	l     *Log
	s     *segment
	start int // len(l.buf) when the append began
}

// Frame reserves a frame with an n-byte body and returns the body, to be
// filled before the next Frame call (the buffer may move), and its
// position. n must be positive.
func (a *Appender) Frame(n int) ([]byte, Pos) {
	l := a.l
	start := len(l.buf)
	if cap(l.buf)-start < FrameHeader+n {
		nb := make([]byte, start, max(2*cap(l.buf), start+FrameHeader+n, 64<<10))
		copy(nb, l.buf)
		l.buf = nb
	}
	l.buf = l.buf[:start+FrameHeader+n]
	binary.LittleEndian.PutUint32(l.buf[start:], uint32(n))
	l.frames = append(l.frames, start)
	// The segment's size counts every append before this one, written,
	// in flight or pending.
	pos := Pos{Seg: a.s.id, Off: a.s.size + int64(start-a.start) + FrameHeader}
	return l.buf[start+FrameHeader:], pos
}

// End returns the end the append will have with the frames reserved so
// far: the position to Sync for them.
func (a *Appender) End() uint64 { return a.l.end + uint64(len(a.l.buf)-a.start) }

// Append adds the frames fill reserves, and returns the end of the append:
// Sync(end) makes them durable. size, the bytes fill will reserve (or an
// estimate), decides whether they start a new segment. fill runs with the
// append lock held, so appends are numbered and stored in one order.
func (l *Log) Append(size int, fill func(*Appender)) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return 0, err
	}
	for l.needsSegment(size) {
		s := l.active()
		if s == nil || s.durable == s.size {
			if err := l.newSegment(); err != nil {
				return 0, err
			}
			break
		}
		// Segments are sealed durable: wait for the group in flight, so a
		// new segment never follows bytes that may still fail.
		end := l.end
		l.mu.Unlock()
		l.Sync(end) // its failure is its appends'; this one goes on
		l.mu.Lock()
		if err := l.writableLocked(); err != nil {
			return 0, err
		}
	}
	return l.appendLocked(fill), nil
}

func (l *Log) appendLocked(fill func(*Appender)) uint64 {
	s := l.active()
	start := len(l.buf)
	l.frames = l.frames[:0]
	fill(&Appender{l: l, s: s, start: start})
	for _, f := range l.frames {
		n := binary.LittleEndian.Uint32(l.buf[f:])
		body := l.buf[f+FrameHeader : f+FrameHeader+int(n)]
		binary.LittleEndian.PutUint32(l.buf[f+4:], crc32.Checksum(body, castagnoli))
	}
	n := len(l.buf) - start
	s.size += int64(n)
	l.end += uint64(n)
	return l.end
}

func (l *Log) needsSegment(size int) bool {
	s := l.active()
	return s == nil || (s.size > 0 && s.size+int64(size)+FrameHeader > l.opts.SegmentBytes)
}

// writableLocked reports why appends are refused, retrying the cut of a
// failed group first.
func (l *Log) writableLocked() error {
	if l.stopped != nil {
		return l.stopped
	}
	if l.dirty != nil {
		if err := l.cut(l.active()); err != nil {
			return fmt.Errorf("%w (refusing appends until the failed write is removed: %w)", l.dirty, err)
		}
		l.dirty = nil
	}
	return nil
}

// newSegment starts the segment appends go to next. Called with mu held
// and nothing pending.
func (l *Log) newSegment() error {
	id := uint64(1)
	if s := l.active(); s != nil {
		id = s.id + 1
	}
	if l.opts.NextID != nil {
		id = l.opts.NextID()
	}
	path := filepath.Join(l.dir, SegmentName(id, l.opts.Suffix))
	f, err := l.opts.FS.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return l.failStop(fmt.Errorf("create segment %s: %w", path, err))
	}
	// The new file's directory entry must be durable before frames in it
	// are acknowledged.
	if !l.opts.NoSync {
		if err := l.opts.FS.SyncDir(l.dir); err != nil {
			f.Close()
			return l.failStop(fmt.Errorf("create segment %s: %w", path, err))
		}
	}
	old := l.active()
	s := &segment{id: id, path: path, f: f}
	l.segs = append(l.segs, s)
	if old != nil && l.opts.OnSeal != nil {
		l.opts.OnSeal(old.info())
	}
	if l.opts.Head != nil {
		head := l.opts.Head()
		l.appendLocked(func(a *Appender) {
			b, _ := a.Frame(len(head))
			copy(b, head)
		})
	}
	return nil
}

func (l *Log) failStop(err error) error {
	if l.opts.StopOnFailure && l.stopped == nil {
		l.stopped = err
	}
	return err
}

// End returns the end of everything appended so far.
func (l *Log) End() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.end
}

// Sync returns once the append ending at end is durable, or with the
// error that made it fail.
func (l *Log) Sync(end uint64) error {
	if end <= l.synced.Load() {
		return l.outcome(end)
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if end <= l.synced.Load() {
		return l.outcome(end)
	}
	l.mu.Lock()
	if l.stopped != nil {
		l.failLocked(l.stopped)
		l.mu.Unlock()
		return l.outcome(end)
	}
	s, buf, off, cur := l.active(), l.buf, int64(0), l.end
	l.buf, l.spare = l.spare[:0], nil
	off = s.written
	l.mu.Unlock()

	var err error
	if len(buf) > 0 {
		if _, err = s.f.WriteAt(buf, off); err != nil {
			err = fmt.Errorf("write segment %s: %w", s.path, err)
		}
	}
	if err == nil && !l.opts.NoSync {
		if err = s.f.Sync(); err != nil {
			// After a failed fsync the state of this group's pages is
			// unknowable (Linux may have dropped them and will not report
			// it again), so a later fsync proves nothing about them: the
			// group is treated as lost and cut off.
			err = fmt.Errorf("sync segment %s: %w", s.path, err)
		}
	}
	if err != nil {
		l.mu.Lock()
		s.written = max(s.written, off+int64(len(buf))) // what the cut must remove
		l.failLocked(err)
		l.spare = buf[:0]
		l.mu.Unlock()
		return l.outcome(end)
	}
	if l.opts.OnDurable != nil {
		l.opts.OnDurable(cur)
	}
	l.mu.Lock()
	s.written = off + int64(len(buf))
	if len(buf) > 0 {
		s.tail = s.durable
	}
	s.durable = s.written
	if cap(buf) <= maxSpare {
		l.spare = buf[:0]
	}
	l.mu.Unlock()
	l.synced.Store(cur)
	return l.outcome(end)
}

// failLocked fails every append not yet durable with cause, cuts the active
// segment back to its durable size and resolves the failed appends.
func (l *Log) failLocked(cause error) {
	lo, hi := l.synced.Load(), l.end
	s := l.active()
	l.buf = l.buf[:0]
	if s != nil {
		s.size = s.durable
		if !errors.Is(cause, ErrClosed) && l.dirty == nil {
			if err := l.cut(s); err != nil {
				l.dirty = cause
			}
		}
	}
	if hi > lo {
		if n := len(l.failures); n > 0 && l.failures[n-1].hi == lo {
			l.failures[n-1].hi = hi // failures in a row, nothing durable between
		} else {
			l.failures = append(l.failures, failure{lo, hi, cause})
		}
	}
	if l.opts.OnDiscard != nil {
		l.opts.OnDiscard()
	}
	l.failStop(cause)
	l.synced.Store(hi)
}

// outcome is the fate of a resolved append ending at end.
func (l *Log) outcome(end uint64) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i := sort.Search(len(l.failures), func(i int) bool { return l.failures[i].hi >= end })
	if i < len(l.failures) && l.failures[i].lo < end {
		return l.failures[i].err
	}
	return nil
}

// cut truncates s to its durable size, fsyncs that, and checks that the
// durable tail still reads back intact. Called with mu held and nothing of
// s in flight.
func (l *Log) cut(s *segment) error {
	if err := s.f.Truncate(s.durable); err != nil {
		// Keep a crash from resurrecting the failed group meanwhile: a zero
		// frame header at the durable end stops Open's scan there. An
		// overwrite of allocated blocks needs no free space.
		var zero [FrameHeader]byte
		if _, werr := s.f.WriteAt(zero[:], s.durable); werr == nil && !l.opts.NoSync {
			s.f.Sync()
		}
		return fmt.Errorf("truncate %s to %d: %w", s.path, s.durable, err)
	}
	if !l.opts.NoSync {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("sync truncated %s: %w", s.path, err)
		}
	}
	s.written, s.size = s.durable, s.durable
	return l.verifyTail(s)
}

// verifyTail re-reads s from its last durable group to its durable size
// and checks every frame's length and checksum, so appends resume only on
// a segment whose end is where the bookkeeping says.
func (l *Log) verifyTail(s *segment) error {
	st, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", s.path, err)
	}
	if st.Size() != s.durable {
		return fmt.Errorf("verify %s: size %d after truncation, want %d", s.path, st.Size(), s.durable)
	}
	b := make([]byte, s.durable-s.tail)
	if _, err := s.f.ReadAt(b, s.tail); err != nil && err != io.EOF {
		return fmt.Errorf("verify %s: %w", s.path, err)
	}
	for len(b) > 0 {
		if len(b) < FrameHeader {
			return fmt.Errorf("verify %s: partial frame header at %d", s.path, s.durable-int64(len(b)))
		}
		n := int(binary.LittleEndian.Uint32(b[0:4]))
		if n == 0 || FrameHeader+n > len(b) ||
			crc32.Checksum(b[FrameHeader:FrameHeader+n], castagnoli) != binary.LittleEndian.Uint32(b[4:8]) {
			return fmt.Errorf("verify %s: durable frame at %d does not read back", s.path, s.durable-int64(len(b)))
		}
		b = b[FrameHeader+n:]
	}
	return nil
}

// ReadAt reads len(p) bytes of segment seg at off. Bytes appended but not
// yet written are synced first.
func (l *Log) ReadAt(seg uint64, p []byte, off int64) (int, error) {
	for try := 0; ; try++ {
		l.mu.RLock()
		if l.stopped == ErrClosed {
			l.mu.RUnlock()
			return 0, ErrClosed
		}
		s := l.find(seg)
		if s == nil {
			l.mu.RUnlock()
			return 0, fmt.Errorf("segment %d is not in the log", seg)
		}
		pending := off+int64(len(p)) > s.written
		end := l.end
		s.refs.Add(1)
		l.mu.RUnlock()
		if !pending || try > 0 {
			n, err := s.f.ReadAt(p, off)
			s.release()
			return n, err
		}
		s.release()
		if err := l.Sync(end); err != nil {
			return 0, err
		}
	}
}

// find returns segment id. Called with mu held.
func (l *Log) find(id uint64) *segment {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].id >= id })
	if i < len(l.segs) && l.segs[i].id == id {
		return l.segs[i]
	}
	return nil
}

// Segments describes the segments, oldest first.
func (l *Log) Segments() []SegmentInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		out[i] = s.info()
	}
	if len(out) > 0 {
		out[len(out)-1].Last = true
	}
	return out
}

// Active returns the ID of the segment appends go to (0 before the first).
func (l *Log) Active() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if s := l.active(); s != nil {
		return s.id
	}
	return 0
}

// Remove deletes a segment other than the active one and makes the
// deletion durable. Readers already inside ReadAt finish first.
func (l *Log) Remove(id uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped != nil {
		// A log reopened on the same directory in this process must not
		// lose a segment to a removal still running in the old one.
		return l.stopped
	}
	s := l.find(id)
	if s == nil {
		return nil
	}
	if s == l.active() {
		return fmt.Errorf("cannot remove the active segment %s", s.path)
	}
	l.segs = slicesDelete(l.segs, s)
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove segment: %w", err)
	}
	s.removed.Store(true)
	if s.refs.Load() == 0 {
		s.close()
	}
	if l.opts.NoSync {
		return nil
	}
	return l.opts.FS.SyncDir(l.dir)
}

func slicesDelete(segs []*segment, s *segment) []*segment {
	out := segs[:0:0]
	for _, x := range segs {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// Close makes every append durable (or fails it), refuses further appends
// and closes the files.
func (l *Log) Close() error {
	l.mu.RLock()
	end, stopped := l.end, l.stopped
	l.mu.RUnlock()
	if stopped == ErrClosed {
		return nil
	}
	err := l.Sync(end)
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dirty != nil {
		// A last chance to remove a failed group's bytes before Open could
		// find them.
		if derr := l.cut(l.active()); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	l.stopped = ErrClosed
	l.failLocked(ErrClosed) // resolves appends made after the Sync above
	l.closeFilesLocked()
	if err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("close log %s: %w", l.dir, err)
	}
	return nil
}

// Abandon stops the log as a crash would: nothing pending is written,
// nothing is cut, files are closed as the kernel would close them. For
// tests of recovery.
func (l *Log) Abandon() {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = ErrClosed
	l.dirty = nil
	l.failLocked(ErrClosed)
	l.closeFilesLocked()
}

func (l *Log) closeFiles() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closeFilesLocked()
}

func (l *Log) closeFilesLocked() {
	for _, s := range l.segs {
		s.close()
	}
}
