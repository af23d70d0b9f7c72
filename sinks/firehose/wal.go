package firehose

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/sluice-dev/sluice/internal/seglog"
)

// This file is the delivery stream's write-ahead log: a seglog.Log
// (internal/seglog: numbered segment files of checksummed frames, group
// commit, torn-tail recovery) whose frames are entries. An entry's frame
// body is one type byte and the entry's binary payload; entries.go and
// this file's codecs say what payloads hold. Appends happen under the
// journal's lock and are made durable by sync (one fsync covers every
// append before it).
//
// A torn or corrupt entry at the tail of the last segment is what a crash
// leaves; recovery cuts it. Damage anywhere else is reported, never
// skipped. After a failed write or fsync the log refuses everything until
// the stream is reopened: the stream's state in memory may then disagree
// with the disk, and recovery starts again from the disk.
//
// Logs written by the release before this format (JSON head, intent and
// done entries, *.wal files) are upgraded once, at Open (wal_legacy.go).

const (
	entryHead   byte = 1 // segment head: checkpoints and next record sequence
	entryBatch  byte = 2 // an accepted batch
	entryIntent byte = 3 // a flush about to be written
	entryDone   byte = 4 // a flush written
)

// segmentSuffix ends the name of every segment file.
const segmentSuffix = ".seg"

// walOptions are the seglog options every delivery stream log uses.
func walOptions() seglog.Options {
	return seglog.Options{Suffix: segmentSuffix, StopOnFailure: true}
}

type wal struct {
	log *seglog.Log
}

// walPos locates an appended entry.
type walPos struct {
	lsn uint64 // logical end of the entry: sync(lsn) makes it durable
	seg uint64
	off int64 // file offset of the payload
}

func segName(n uint64) string { return seglog.SegmentName(n, segmentSuffix) }

// listSegments returns the segment numbers in dir, ascending, after
// upgrading a log written in the previous format.
func listSegments(dir string) ([]uint64, error) {
	if err := upgradeLegacyWAL(dir); err != nil {
		return nil, err
	}
	segs, err := seglog.List(dir, segmentSuffix)
	if err != nil {
		return nil, fmt.Errorf("list wal segments: %w", err)
	}
	return segs, nil
}

// walEntry is one entry read back during recovery.
type walEntry struct {
	typ     byte
	payload []byte // valid only during the callback
	seg     uint64
	off     int64 // file offset of the payload
}

// readSegment reads every entry of a segment. For the last segment a bad
// tail is cut away (it is what a crash mid-append leaves); for earlier
// segments it is an error, since they were fsynced whole before the next
// one was started.
func readSegment(dir string, n uint64, last bool, fn func(walEntry) error) error {
	err := seglog.ReadSegment(dir, n, walOptions(), last, func(f seglog.Frame) error {
		return fn(walEntry{typ: f.Body[0], payload: f.Body[1:], seg: f.Seg, off: f.Off + 1})
	})
	if err != nil {
		return fmt.Errorf("read wal segment %d: %w", n, err)
	}
	return nil
}

// openWAL opens the existing segments (already recovered by readSegment)
// for reading and starts a new segment, numbered after the last one, for
// appending; head supplies the payload written at the start of every new
// segment.
func openWAL(dir string, segs []uint64, segLimit int64, head func() []byte) (*wal, error) {
	opts := walOptions()
	opts.SegmentBytes = segLimit
	opts.Fresh = true
	opts.Skip = func(seglog.SegmentInfo) bool { return true }
	opts.Head = func() []byte { return append([]byte{entryHead}, head()...) }
	l, err := seglog.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open wal: %w", err)
	}
	return &wal{log: l}, nil
}

// append adds an entry; it is durable only after sync(pos.lsn).
func (w *wal) append(typ byte, payload []byte) (walPos, error) {
	var pos walPos
	end, err := w.log.Append(seglog.FrameHeader+1+len(payload), func(a *seglog.Appender) {
		b, p := a.Frame(1 + len(payload))
		b[0] = typ
		copy(b[1:], payload)
		pos.seg, pos.off = p.Seg, p.Off+1
	})
	if err != nil {
		return walPos{}, fmt.Errorf("append to wal: %w", err)
	}
	pos.lsn = end
	return pos, nil
}

// sync makes every entry up to lsn durable. Concurrent callers share
// fsyncs.
func (w *wal) sync(lsn uint64) error {
	if err := w.log.Sync(lsn); err != nil {
		return fmt.Errorf("sync wal: %w", err)
	}
	return nil
}

// readAt reads len(buf) bytes of segment seg at off into buf.
func (w *wal) readAt(seg uint64, off int64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if _, err := w.log.ReadAt(seg, buf, off); err != nil {
		return fmt.Errorf("read record from wal segment %d at %d: %w", seg, off, err)
	}
	return nil
}

// appended returns the logical end of everything appended so far.
func (w *wal) appended() uint64 { return w.log.End() }

// active returns the number of the segment being appended to.
func (w *wal) active() uint64 { return w.log.Active() }

// remove deletes a fully delivered segment. The caller deletes segments
// oldest first and only after the entries that released them are durable;
// the removal is durable before remove returns, so a crash never
// resurrects an older segment without a newer one. Once the log is closed
// or abandoned it refuses: a stream reopened on the same directory in this
// process must not lose a segment to a reclaim still running in the old
// one.
func (w *wal) remove(seg uint64) error {
	if err := w.log.Remove(seg); err != nil {
		return fmt.Errorf("remove wal segment %d: %w", seg, err)
	}
	return nil
}

// close makes every entry durable and closes the files.
func (w *wal) close() error {
	if err := w.log.Close(); err != nil {
		return fmt.Errorf("close wal: %w", err)
	}
	return nil
}

// abandon closes the files without writing anything pending, as a crash
// would; tests use it.
func (w *wal) abandon() { w.log.Abandon() }

// Entry payloads other than a batch's records are encoded here, in the
// binary of enc and dec: strings and byte fields length-prefixed, numbers
// as varints, maps as a count and their pairs in key order.

func encodeHead(h headRec) []byte {
	e := enc{b: make([]byte, 0, 16+32*len(h.Checkpoints))}
	e.uvarint(h.Next)
	e.strMap(h.Checkpoints)
	return e.b
}

func decodeHead(p []byte) (headRec, error) {
	d := dec{b: p}
	h := headRec{Next: d.uvarint(), Checkpoints: d.strMap()}
	return h, d.done("head")
}

func encodeIntent(in intentRec) []byte {
	e := enc{b: make([]byte, 0, 64+len(in.Key)+len(in.Part)+len(in.Replaces))}
	e.str(in.Key)
	e.str(in.Part)
	e.uvarint(in.Lo)
	e.uvarint(in.Hi)
	e.uvarint(uint64(in.N))
	e.varint(in.Bytes)
	e.str(in.Reason)
	e.varint(in.At)
	e.str(in.Replaces)
	if in.Fail == nil {
		e.uvarint(0)
	} else {
		e.uvarint(1)
		e.str(in.Fail.Code)
		e.str(in.Fail.Msg)
		e.varint(in.Fail.At)
	}
	return e.b
}

func decodeIntent(p []byte) (intentRec, error) {
	d := dec{b: p}
	in := intentRec{Key: d.str(), Part: d.str(), Lo: d.uvarint(), Hi: d.uvarint(), N: int(d.uvarint()),
		Bytes: d.varint(), Reason: d.str(), At: d.varint(), Replaces: d.str()}
	if d.uvarint() == 1 {
		in.Fail = &failRec{Code: d.str(), Msg: d.str(), At: d.varint()}
	}
	return in, d.done("flush intent")
}

func encodeDone(k doneRec) []byte {
	e := enc{b: make([]byte, 0, 2+len(k.Key))}
	e.str(k.Key)
	return e.b
}

func decodeDone(p []byte) (doneRec, error) {
	d := dec{b: p}
	k := doneRec{Key: d.str()}
	return k, d.done("flush done")
}

// encodeRoute appends a route of a batch entry's route table.
func encodeRoute(e *enc, rt *route) {
	e.strMap(rt.QueryKeys)
	e.strMap(rt.LambdaKeys)
	e.str(rt.ErrType)
	e.str(rt.ErrCode)
	e.str(rt.ErrMsg)
}

// decodeRoute reads a route written by encodeRoute; its derived fields
// are the caller's to set.
func decodeRoute(d *dec) (*route, error) {
	rt := &route{QueryKeys: d.strMap(), LambdaKeys: d.strMap(), ErrType: d.str(), ErrCode: d.str(), ErrMsg: d.str()}
	if d.err != nil {
		return nil, fmt.Errorf("route: %w", d.err)
	}
	return rt, nil
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

// strMap writes m's pairs in key order, so equal maps encode equally.
func (e *enc) strMap(m map[string]string) {
	e.uvarint(uint64(len(m)))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.str(k)
		e.str(m[k])
	}
}

// strMap reads a map written by enc.strMap; an empty one reads as nil.
func (d *dec) strMap() map[string]string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.err = errors.New("map runs past the entry")
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	if d.err != nil {
		return nil
	}
	return m
}

// done reports a decoding error, or bytes left over, of an entry of kind.
func (d *dec) done(kind string) error {
	if d.err == nil && d.off != len(d.b) {
		d.err = fmt.Errorf("%d bytes left over", len(d.b)-d.off)
	}
	if d.err != nil {
		return fmt.Errorf("%s entry: %w", kind, d.err)
	}
	return nil
}
