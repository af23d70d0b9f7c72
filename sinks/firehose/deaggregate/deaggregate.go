// Package deaggregate splits one incoming record into several, the first
// stages of Firehose's order (docs/semantics.md, "Firehose processing
// order"): KPL de-aggregation for Kinesis sources, then the
// RecordDeAggregation processor (JSON or DELIMITED sub-records). Splitting
// is a pure function of the bytes; a delivery stream runs it before the
// batch is logged, so a replay sees the same sub-records. A record that
// does not split is delivered whole rather than dropped.
package deaggregate

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
)

// Sub-record types of the RecordDeAggregation processor (SubRecordType).
const (
	JSON      = "JSON"
	Delimited = "DELIMITED"
)

// MaxSubRecords is Firehose's limit: a record holding more sub-records is
// delivered whole, not de-aggregated (docs/semantics.md, "Multi-record
// de-aggregation").
const MaxSubRecords = 500

// kplMagic starts a KPL aggregated record (docs/semantics.md, "KPL
// aggregation").
var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// SubRecords is the RecordDeAggregation processor on one record. It
// returns false when the record is to be delivered whole: JSON that is
// not a sequence of objects (an array is invalid input), or more
// than MaxSubRecords sub-records. Empty DELIMITED pieces (a trailing
// delimiter) are dropped. What Firehose does with JSON it cannot split is
// not documented; delivering it whole lets the later stages (the query,
// format conversion) route it as they would any other record.
func SubRecords(data []byte, typ string, delim []byte) ([][]byte, bool) {
	var out [][]byte
	switch typ {
	case JSON:
		rest := data
		for {
			rest = bytes.TrimLeft(rest, " \t\r\n")
			if len(rest) == 0 {
				break
			}
			n, ok := objectEnd(rest)
			if !ok {
				return nil, false
			}
			out = append(out, rest[:n])
			rest = rest[n:]
		}
	case Delimited:
		for p := range bytes.SplitSeq(data, delim) {
			if len(p) > 0 {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 || len(out) > MaxSubRecords {
		return nil, false
	}
	return out, true
}

// objectEnd returns the length of the JSON object that b starts with: its
// braces balance outside strings. It does not validate the object's
// contents; the later stages judge those as they judge any record.
func objectEnd(b []byte) (int, bool) {
	if len(b) == 0 || b[0] != '{' {
		return 0, false
	}
	depth, inStr := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr && c == '\\':
			i++ // the escaped character, whatever it is
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i + 1, c == '}'
			}
			if depth < 0 {
				return 0, false
			}
		}
	}
	return 0, false
}

// KPL returns the user records of a KPL aggregated record, or false
// when data is not one (no magic, too short, or an MD5 trailer that does
// not match: then it is an ordinary record; see docs/semantics.md,
// "KPL aggregation"). A body
// that passes the checksum but does not decode is delivered whole too:
// Sluice never drops a record it cannot read.
func KPL(data []byte) ([][]byte, bool) {
	if len(data) < len(kplMagic) || !bytes.Equal(data[:len(kplMagic)], kplMagic) {
		return nil, false
	}
	body := data[len(kplMagic):]
	if len(body) <= md5.Size {
		return nil, false
	}
	msg, digest := body[:len(body)-md5.Size], body[len(body)-md5.Size:]
	if sum := md5.Sum(msg); !bytes.Equal(sum[:], digest) {
		return nil, false
	}
	recs, err := decodeAggregated(msg)
	if err != nil || len(recs) == 0 {
		return nil, false
	}
	return recs, true
}

// decodeAggregated reads the data field of every Record of an
// AggregatedRecord protobuf message (field 3; partition and hash key
// tables, fields 1 and 2, are skipped: a delivery stream has no use for
// them).
func decodeAggregated(msg []byte) ([][]byte, error) {
	var out [][]byte
	pb := protoReader{b: msg}
	for !pb.done() {
		field, typ, err := pb.key()
		if err != nil {
			return nil, err
		}
		if field != 3 || typ != wireBytes {
			if err := pb.skip(typ); err != nil {
				return nil, err
			}
			continue
		}
		rec, err := pb.bytes()
		if err != nil {
			return nil, err
		}
		data, err := recordData(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, data)
	}
	return out, nil
}

// recordData returns a Record message's data field (3, required).
func recordData(msg []byte) ([]byte, error) {
	pb := protoReader{b: msg}
	var data []byte
	found := false
	for !pb.done() {
		field, typ, err := pb.key()
		if err != nil {
			return nil, err
		}
		if field == 3 && typ == wireBytes {
			if data, err = pb.bytes(); err != nil {
				return nil, err
			}
			found = true
			continue
		}
		if err := pb.skip(typ); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, errors.New("kpl record without data")
	}
	return data, nil
}

// Protobuf wire types (protobuf encoding guide).
const (
	wireVarint = 0
	wireI64    = 1
	wireBytes  = 2
	wireI32    = 5
)

// protoReader reads protobuf wire format: just what an AggregatedRecord
// needs, so the sink carries no generated code.
type protoReader struct{ b []byte }

func (p *protoReader) done() bool { return len(p.b) == 0 }

func (p *protoReader) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		if i >= len(p.b) {
			return 0, errors.New("kpl: truncated varint")
		}
		c := p.b[i]
		if i == 9 && c > 1 {
			return 0, errors.New("kpl: varint overflows 64 bits")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			p.b = p.b[i+1:]
			return v, nil
		}
	}
	return 0, errors.New("kpl: varint overflows 64 bits")
}

func (p *protoReader) key() (field uint64, typ int, err error) {
	k, err := p.varint()
	if err != nil {
		return 0, 0, err
	}
	if k>>3 == 0 {
		return 0, 0, errors.New("kpl: field number 0")
	}
	return k >> 3, int(k & 7), nil
}

func (p *protoReader) bytes() ([]byte, error) {
	n, err := p.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(p.b)) {
		return nil, fmt.Errorf("kpl: field of %d bytes runs past the message", n)
	}
	v := p.b[:n:n]
	p.b = p.b[n:]
	return v, nil
}

func (p *protoReader) skip(typ int) error {
	switch typ {
	case wireVarint:
		_, err := p.varint()
		return err
	case wireBytes:
		_, err := p.bytes()
		return err
	case wireI64, wireI32:
		n := 8
		if typ == wireI32 {
			n = 4
		}
		if len(p.b) < n {
			return errors.New("kpl: truncated fixed-width field")
		}
		p.b = p.b[n:]
		return nil
	}
	return fmt.Errorf("kpl: unsupported wire type %d", typ)
}
