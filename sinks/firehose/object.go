package firehose

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// This file turns a flush (a partition's records lo..hi) into an object:
// its key and its bytes. Both are pure functions of what the write-ahead
// log holds, so re-executing a flush after a crash rewrites the same key
// with the same bytes instead of adding a second object.

// versionID is the delivery stream's VersionId; Sluice has no
// UpdateDestination yet, so every stream is at version 1.
const versionID = "1"

// objectID derives the UUID-shaped last element of an object name from the
// object's identity: stream, partition and the record sequence range. The
// version and variant bits mark it as an RFC 9562 version-8 (custom) UUID.
func objectID(stream, part string, lo, hi uint64) string {
	h := sha256.New()
	var n [16]byte
	binary.BigEndian.PutUint64(n[:8], lo)
	binary.BigEndian.PutUint64(n[8:], hi)
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", stream, versionID, part)
	h.Write(n[:])
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// randomString is the n-th !{firehose:random-string} of an object: 11
// characters, like Firehose's, but derived from the object id so a replay
// renders the same key.
func randomString(id string, n int) string {
	s := sha256.Sum256(fmt.Appendf(nil, "%s/%d", id, n))
	return hex.EncodeToString(s[:])[:11]
}

// objectKey renders <prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<id><ext>
// (docs/semantics.md, "Firehose S3 object names") for the records lo..hi
// of a partition whose oldest record
// arrived at oldest.
func (d *DeliveryStream) objectKey(rt *route, part string, lo, hi uint64, oldest time.Time) string {
	id := objectID(d.cc.cfg.Name, part, lo, hi)
	t := oldest.In(d.cc.loc)
	in := renderInput{Time: t, Query: rt.QueryKeys, Lambda: rt.LambdaKeys, Random: func(n int) string { return randomString(id, n) }}
	p := d.cc.prefix
	if rt.ErrType != "" {
		p, in.ErrorType = d.cc.errPfx, rt.ErrType
	}
	pfx, err := p.eval(in)
	if err == nil {
		err = checkPrefixLength(utf8.RuneCountInString(pfx))
	}
	if err != nil {
		// Routing already checked this prefix for each record; the only
		// difference now is the oldest record's time, which can lengthen a
		// textual field (MMMM) past 512 characters. The limit is AWS's, not
		// a safety rule, so deliver rather than strand the records.
		d.log.Warn("prefix evaluation failed at flush; delivering with the over-long prefix", "err", err)
	}
	return pfx + d.cc.cfg.Name + "-" + versionID + "-" + t.Format("2006-01-02-15-04-05") + "-" + id + d.objectExt(rt)
}

// objectExt is the extension of a partition's objects: error output stays
// JSON lines even when data is converted to Parquet.
func (d *DeliveryStream) objectExt(rt *route) string {
	if d.cc.conv != nil && rt.ErrType != "" && d.cc.cfg.FileExtension == "" {
		return ""
	}
	return d.cc.ext
}

// errorEnvelope is one failed record in the error output
// (docs/semantics.md, "Firehose error output": the
// processing-failed shape that dynamic-partitioning failures are assumed
// to share). Field order is fixed so that objects are byte-identical on
// replay.
type errorEnvelope struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"`
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"`
	RawData                []byte `json:"rawData"`
}

// writeObject streams the object body for j to w: records in sequence
// order, a newline after each if configured, error envelopes one per line,
// then compression. Compression is deterministic for a given sequence of
// writes (no name or mtime in the gzip header), and the writes depend only
// on the records.
func (d *DeliveryStream) writeObject(w io.Writer, j *job) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if d.cc.conv != nil && j.rt.ErrType == "" {
		return d.writeParquet(bw, j)
	}
	name := path.Base(j.Key)
	name = strings.TrimSuffix(name, d.cc.ext)
	out, err := compressions[d.cc.cfg.Compression].wrap(bw, name)
	if err != nil {
		return err
	}
	rr := logReader{w: d.journal.w}
	for i, r := range j.refs {
		data, err := rr.read(j.refs, i)
		if err != nil {
			return err
		}
		if r.rt.ErrType == ErrTypeFormatConversion {
			line, err := json.Marshal(conversionEnvelope{
				AttemptsMade:           1,
				ArrivalTimestamp:       r.arrival / int64(time.Millisecond),
				LastErrorCode:          r.rt.ErrCode,
				LastErrorMessage:       r.rt.ErrMsg,
				AttemptEndingTimestamp: r.rt.endedMs,
				RawData:                data,
				DataCatalogTable:       d.cc.conv.Table(),
			})
			if err != nil {
				return fmt.Errorf("encode error envelope: %w", err)
			}
			if _, err := out.Write(append(line, '\n')); err != nil {
				return err
			}
			continue
		}
		if r.rt.ErrType != "" {
			line, err := json.Marshal(errorEnvelope{
				AttemptsMade:           1,
				ArrivalTimestamp:       r.arrival / int64(time.Millisecond),
				ErrorCode:              r.rt.ErrCode,
				ErrorMessage:           r.rt.ErrMsg,
				AttemptEndingTimestamp: r.rt.endedMs,
				RawData:                data,
			})
			if err != nil {
				return fmt.Errorf("encode error envelope: %w", err)
			}
			if _, err := out.Write(append(line, '\n')); err != nil {
				return err
			}
			continue
		}
		if _, err := out.Write(data); err != nil {
			return err
		}
		if d.cc.cfg.AppendDelimiter {
			if _, err := out.Write(newline); err != nil {
				return err
			}
		}
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("finish %s stream: %w", d.cc.cfg.Compression, err)
	}
	return bw.Flush()
}

var newline = []byte{'\n'}

// writeParquet streams a data partition's records as one Parquet file,
// row group by row group.
func (d *DeliveryStream) writeParquet(bw *bufio.Writer, j *job) error {
	pw := d.cc.conv.NewWriter(bw)
	rr := logReader{w: d.journal.w}
	for i, r := range j.refs {
		data, err := rr.read(j.refs, i)
		if err != nil {
			return err
		}
		// Accept converted this record successfully already, and the
		// conversion is a pure function of the bytes.
		if err := pw.Write(data); err != nil {
			return fmt.Errorf("convert record %d: %w", r.seq, err)
		}
	}
	if err := pw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// logReader reads a flush's records back from the log. Records of one
// partition that were accepted close together lie close together in a
// segment, so one read fetches a run of them (gaps of other partitions'
// records included) instead of one read per record; records far apart are
// read alone, so a read never costs much more than its records.
type logReader struct {
	w   *wal
	buf []byte
	seg uint64
	off int64 // segment offset of buf[0]
}

const (
	readAheadMax = 256 << 10 // bytes one read may span
	readAheadGap = 4 << 10   // largest gap between records one read bridges
)

// read returns refs[i]'s bytes, valid until the next call.
func (lr *logReader) read(refs []ref, i int) ([]byte, error) {
	r := refs[i]
	if r.seg == lr.seg && r.off >= lr.off && r.off+int64(r.n) <= lr.off+int64(len(lr.buf)) {
		return lr.buf[r.off-lr.off : r.off-lr.off+int64(r.n)], nil
	}
	end := r.off + int64(r.n)
	for _, x := range refs[i+1:] {
		xe := x.off + int64(x.n)
		if x.seg != r.seg || x.off < end || x.off-end > readAheadGap || xe-r.off > readAheadMax {
			break
		}
		end = xe
	}
	n := int(end - r.off)
	if cap(lr.buf) < n {
		lr.buf = make([]byte, n)
	}
	lr.buf = lr.buf[:n]
	lr.seg, lr.off = r.seg, r.off
	if err := lr.w.readAt(r.seg, r.off, lr.buf); err != nil {
		lr.buf = lr.buf[:0]
		return nil, err
	}
	return lr.buf[:r.n], nil
}
