package firehose

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluice-dev/sluice/internal/fsutil"
)

// This file is the delivery stream's write-ahead log: numbered segment
// files of checksummed entries, appended under the stream's lock and
// fsynced by group commit (one fsync covers every append before it).
//
// Entry framing: uint32 payload length, uint32 CRC-32C of type+payload,
// one type byte, payload. A torn or corrupt entry at the tail of the last
// segment is what a crash leaves; recovery truncates it. Damage anywhere
// else is reported, never skipped.

const (
	entryHead   byte = 1 // segment head: checkpoints and next record sequence
	entryBatch  byte = 2 // an accepted batch
	entryIntent byte = 3 // a flush about to be written
	entryDone   byte = 4 // a flush written
)

const (
	entryHeaderLen = 9
	maxEntryLen    = 1 << 30
	segmentSuffix  = ".wal"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errClosed is returned once the log has been closed or abandoned.
var errClosed = errors.New("write-ahead log is closed")

type wal struct {
	dir      string
	segLimit int64

	mu      sync.Mutex // guards the fields below
	f       *os.File
	bw      *bufio.Writer
	seg     uint64
	size    int64               // bytes in the active segment, buffered included
	written uint64              // logical bytes appended since open
	files   map[uint64]*os.File // open segments, for reading records back
	err     error               // sticky: a failed write or fsync poisons the log
	head    func() []byte       // payload of the head entry of a new segment

	syncMu sync.Mutex
	synced atomic.Uint64
}

// walPos locates an appended entry.
type walPos struct {
	lsn uint64 // logical end of the entry: sync(lsn) makes it durable
	seg uint64
	off int64 // file offset of the payload
}

func segName(n uint64) string { return fmt.Sprintf("%020d%s", n, segmentSuffix) }

// listSegments returns the segment numbers in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list wal segments: %w", err)
	}
	var segs []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segmentSuffix), 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, n)
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })
	return segs, nil
}

// walEntry is one entry read back during recovery.
type walEntry struct {
	typ     byte
	payload []byte
	seg     uint64
	off     int64 // file offset of the payload
}

// readSegment reads every entry of a segment. For the last segment a bad
// tail is truncated away (it is what a crash mid-append leaves); for
// earlier segments it is an error, since they were fsynced whole before the
// next one was started.
func readSegment(dir string, n uint64, last bool, fn func(walEntry) error) error {
	path := filepath.Join(dir, segName(n))
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read wal segment %d: %w", n, err)
	}
	off := 0
	for off < len(data) {
		bad := ""
		var typ byte
		var plen int
		switch {
		case len(data)-off < entryHeaderLen:
			bad = "short header"
		default:
			plen = int(binary.LittleEndian.Uint32(data[off:]))
			sum := binary.LittleEndian.Uint32(data[off+4:])
			typ = data[off+8]
			switch {
			case plen > maxEntryLen || len(data)-off-entryHeaderLen < plen:
				bad = "short entry"
			case crc32.Update(crc32.Checksum([]byte{typ}, crcTable), crcTable, data[off+entryHeaderLen:off+entryHeaderLen+plen]) != sum:
				bad = "checksum mismatch"
			}
		}
		if bad != "" {
			if !last {
				return fmt.Errorf("wal segment %d is damaged at offset %d (%s)", n, off, bad)
			}
			if err := truncateSync(path, int64(off)); err != nil {
				return err
			}
			return nil
		}
		e := walEntry{typ: typ, payload: data[off+entryHeaderLen : off+entryHeaderLen+plen], seg: n, off: int64(off + entryHeaderLen)}
		if err := fn(e); err != nil {
			return fmt.Errorf("wal segment %d offset %d: %w", n, off, err)
		}
		off += entryHeaderLen + plen
	}
	return nil
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open wal segment to cut its torn tail: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cut torn wal tail: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync wal after cutting its tail: %w", err)
	}
	return nil
}

// openWAL opens the existing segments for reading and starts a new
// segment, numbered after the last one, for appending; head supplies the
// payload written at the start of every new segment.
func openWAL(dir string, segs []uint64, segLimit int64, head func() []byte) (*wal, error) {
	w := &wal{dir: dir, segLimit: segLimit, files: map[uint64]*os.File{}, head: head}
	for _, n := range segs {
		f, err := os.Open(filepath.Join(dir, segName(n)))
		if err != nil {
			w.closeFiles()
			return nil, fmt.Errorf("open wal segment %d: %w", n, err)
		}
		w.files[n] = f
	}
	next := uint64(1)
	if len(segs) > 0 {
		next = segs[len(segs)-1] + 1
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.startSegment(next); err != nil {
		w.closeFiles()
		return nil, err
	}
	return w, nil
}

// startSegment creates segment n and writes its head. Called with mu held.
func (w *wal) startSegment(n uint64) error {
	path := filepath.Join(w.dir, segName(n))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create wal segment %d: %w", n, err)
	}
	if err := fsutil.SyncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	w.f, w.seg, w.size = f, n, 0
	w.files[n] = f
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, 256<<10)
	} else {
		w.bw.Reset(f)
	}
	_, err = w.appendLocked(entryHead, w.head())
	return err
}

// append adds an entry; it is durable only after sync(pos.lsn).
func (w *wal) append(typ byte, payload []byte) (walPos, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return walPos{}, w.err
	}
	if w.size > 0 && w.size+int64(len(payload))+entryHeaderLen > w.segLimit {
		if err := w.rotateLocked(); err != nil {
			return walPos{}, w.fail(err)
		}
	}
	pos, err := w.appendLocked(typ, payload)
	if err != nil {
		return walPos{}, w.fail(err)
	}
	return pos, nil
}

func (w *wal) appendLocked(typ byte, payload []byte) (walPos, error) {
	if len(payload) > maxEntryLen {
		return walPos{}, fmt.Errorf("wal entry of %d bytes is too large", len(payload))
	}
	var hdr [entryHeaderLen]byte
	binary.LittleEndian.PutUint32(hdr[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Update(crc32.Checksum([]byte{typ}, crcTable), crcTable, payload))
	hdr[8] = typ
	if _, err := w.bw.Write(hdr[:]); err != nil {
		return walPos{}, fmt.Errorf("append to wal: %w", err)
	}
	if _, err := w.bw.Write(payload); err != nil {
		return walPos{}, fmt.Errorf("append to wal: %w", err)
	}
	pos := walPos{seg: w.seg, off: w.size + entryHeaderLen}
	n := int64(entryHeaderLen + len(payload))
	w.size += n
	w.written += uint64(n)
	pos.lsn = w.written
	return pos, nil
}

// rotateLocked makes the active segment durable and starts the next one.
// Old segments stay open: records are read back from them at flush time.
func (w *wal) rotateLocked() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("flush wal segment %d: %w", w.seg, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("fsync wal segment %d: %w", w.seg, err)
	}
	w.markSynced(w.written)
	return w.startSegment(w.seg + 1)
}

func (w *wal) markSynced(lsn uint64) {
	for {
		cur := w.synced.Load()
		if cur >= lsn || w.synced.CompareAndSwap(cur, lsn) {
			return
		}
	}
}

// sync makes every entry up to lsn durable. Concurrent callers share
// fsyncs: whoever holds syncMu syncs everything appended so far, and the
// others find their lsn already covered.
func (w *wal) sync(lsn uint64) error {
	if w.synced.Load() >= lsn {
		return nil
	}
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	if w.synced.Load() >= lsn {
		return nil
	}
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	if err := w.bw.Flush(); err != nil {
		err = w.fail(fmt.Errorf("flush wal: %w", err))
		w.mu.Unlock()
		return err
	}
	cur, f := w.written, w.f
	w.mu.Unlock()
	if err := f.Sync(); err != nil {
		w.mu.Lock()
		err = w.fail(fmt.Errorf("fsync wal: %w", err))
		w.mu.Unlock()
		return err
	}
	w.markSynced(cur)
	return nil
}

// flushed is sync without the fsync: it makes appended bytes readable
// through readAt. Records are read back only after their batch was synced,
// so this is rarely needed; it is cheap when there is nothing to do.
func (w *wal) flushed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		return w.fail(fmt.Errorf("flush wal: %w", err))
	}
	return nil
}

// fail records a sticky error: after a failed write or fsync the log's
// state on disk is unknown, so nothing more is accepted until reopen
// (which recovers from what the disk really holds). Called with mu held.
func (w *wal) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// readAt reads n bytes of segment seg at off into buf.
func (w *wal) readAt(seg uint64, off int64, buf []byte) error {
	w.mu.Lock()
	f := w.files[seg]
	w.mu.Unlock()
	if f == nil {
		return fmt.Errorf("wal segment %d is not open", seg)
	}
	if _, err := f.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && len(buf) == 0) {
		return fmt.Errorf("read record from wal segment %d at %d: %w", seg, off, err)
	}
	return nil
}

// appended returns the logical end of everything appended so far.
func (w *wal) appended() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written
}

// active returns the number of the segment being appended to.
func (w *wal) active() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seg
}

// remove deletes a fully delivered segment. The caller deletes segments
// oldest first and only after the entries that released them are durable;
// the directory fsync makes the removal itself durable before the next
// one, so a crash never resurrects an older segment without a newer one.
func (w *wal) remove(seg uint64) error {
	// Under mu, and refused once the log is closed or abandoned: a stream
	// reopened on the same directory in this process (a deploy, a storage
	// recovery, a test's simulated crash) must not lose a segment to a
	// reclaim still running in the old one.
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if seg == w.seg {
		return fmt.Errorf("cannot remove active wal segment %d", seg)
	}
	if f := w.files[seg]; f != nil {
		f.Close()
	}
	delete(w.files, seg)
	if err := os.Remove(filepath.Join(w.dir, segName(seg))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove wal segment %d: %w", seg, err)
	}
	return fsutil.SyncDir(w.dir)
}

// close flushes and fsyncs the active segment and closes every file.
func (w *wal) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	if w.err == nil {
		if err = w.bw.Flush(); err == nil {
			err = w.f.Sync()
		}
		if err != nil {
			err = fmt.Errorf("close wal: %w", err)
		}
	}
	w.err = errClosed
	w.closeFiles()
	return err
}

// abandon closes the files without flushing anything buffered, as a crash
// would; tests use it.
func (w *wal) abandon() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = errClosed
	w.closeFiles()
}

func (w *wal) closeFiles() {
	for n, f := range w.files {
		f.Close()
		delete(w.files, n)
	}
}

// enc and dec are the little binary codec of batch entries.
type enc struct{ b []byte }

func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }

// bytes appends p with its length and returns p's offset in the payload.
func (e *enc) bytes(p []byte) int {
	e.uvarint(uint64(len(p)))
	off := len(e.b)
	e.b = append(e.b, p...)
	return off
}
func (e *enc) str(s string) { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }

type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.off += n
	return v
}

// bytes returns the next length-prefixed field and its offset.
func (d *dec) bytes() ([]byte, int) {
	n := d.uvarint()
	if d.err != nil {
		return nil, 0
	}
	if n > uint64(len(d.b)-d.off) {
		d.err = errors.New("field runs past the entry")
		return nil, 0
	}
	off := d.off
	d.off += int(n)
	return d.b[off:d.off], off
}

func (d *dec) str() string { b, _ := d.bytes(); return string(b) }
