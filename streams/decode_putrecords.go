package streams

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// PutRecords is the hot request: up to 500 base64 blobs. encoding/json
// spends most of its time validating and reflecting; this scanner handles
// the shape every SDK sends (exact member names, strings without escapes)
// in one pass, decoding all blobs into one slab. Anything else — escapes,
// nulls, unknown members, odd casing, malformed input — falls back to
// encoding/json, so behaviour is always encoding/json's (FuzzDecodePutRecords
// checks the two agree).

var errSlowPath = errors.New("use encoding/json")

func decodePutRecordsJSON(body []byte, in *kinesis.PutRecordsInput) error {
	var fast kinesis.PutRecordsInput
	if fastDecodePutRecords(body, &fast) == nil {
		*in = fast
		return nil
	}
	// The fast path takes printable ASCII only; here encoding/json would
	// turn text that is not Unicode into U+FFFD, a key other than the one
	// sent.
	if msg := jsonUnicodeProblem(body); msg != "" {
		return errors.New(msg)
	}
	return json.Unmarshal(body, in)
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) expect(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str returns the raw bytes of a JSON string with no escapes and no control
// characters or non-ASCII bytes (those go the slow path, which also
// validates UTF-8).
func (s *scanner) str() ([]byte, bool) {
	if !s.expect('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			s.i++
			return s.b[start : s.i-1], true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// blob returns the raw bytes of a JSON string holding base64, for the
// Data member. Unlike str it does not look at every byte: it finds the
// closing quote with IndexByte and leaves the rest to the base64 decoder,
// which rejects a backslash (so an escaped quote or any escape goes the
// slow path), control characters and non-ASCII alike. The exceptions are
// CR and LF, which the decoder skips but JSON forbids raw in a string.
func (s *scanner) blob() ([]byte, bool) {
	if !s.expect('"') {
		return nil, false
	}
	n := bytes.IndexByte(s.b[s.i:], '"')
	if n < 0 {
		return nil, false
	}
	v := s.b[s.i : s.i+n]
	if bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0 {
		return nil, false
	}
	s.i += n + 1
	return v, true
}

func fastDecodePutRecords(body []byte, in *kinesis.PutRecordsInput) error {
	s := &scanner{b: body}
	if !s.expect('{') {
		return errSlowPath
	}
	if s.expect('}') {
		s.ws()
		if s.i != len(s.b) {
			return errSlowPath
		}
		return nil
	}
	seen := map[string]bool{}
	for {
		key, ok := s.str()
		if !ok || !s.expect(':') || seen[string(key)] {
			return errSlowPath
		}
		seen[string(key)] = true
		switch string(key) {
		case "StreamName", "StreamARN":
			v, ok := s.str()
			if !ok {
				return errSlowPath
			}
			if string(key) == "StreamName" {
				in.StreamName = aws.String(string(v))
			} else {
				in.StreamARN = aws.String(string(v))
			}
		case "Records":
			recs, err := s.records()
			if err != nil {
				return err
			}
			in.Records = recs
		default:
			return errSlowPath
		}
		if s.expect(',') {
			continue
		}
		if !s.expect('}') {
			return errSlowPath
		}
		s.ws()
		if s.i != len(s.b) {
			return errSlowPath
		}
		return nil
	}
}

// rawRecord is one record as scanned: slices of the body, decoded after
// the scan.
type rawRecord struct {
	data, key, ehk          []byte
	hasData, hasKey, hasEHK bool
}

func (s *scanner) records() ([]types.PutRecordsRequestEntry, error) {
	if !s.expect('[') {
		return nil, errSlowPath
	}
	if s.expect(']') {
		return make([]types.PutRecordsRequestEntry, 0), nil
	}
	// Every record opens with a brace, so their count is at most the
	// braces left: one allocation per array below instead of a run of
	// growths (a call holds at most 500 records; more is refused later).
	raws := make([]rawRecord, 0, min(bytes.Count(s.b[s.i:], []byte{'{'}), 512))
	for {
		if !s.expect('{') {
			return nil, errSlowPath
		}
		var r rawRecord
		if !s.expect('}') {
			for {
				k, ok := s.str()
				if !ok || !s.expect(':') {
					return nil, errSlowPath
				}
				var v []byte
				if string(k) == "Data" {
					v, ok = s.blob()
				} else {
					v, ok = s.str()
				}
				if !ok {
					return nil, errSlowPath
				}
				// A repeated member goes the slow path: encoding/json
				// decodes (and may reject) every occurrence.
				switch string(k) {
				case "Data":
					if r.hasData {
						return nil, errSlowPath
					}
					r.data, r.hasData = v, true
				case "PartitionKey":
					if r.hasKey {
						return nil, errSlowPath
					}
					r.key, r.hasKey = v, true
				case "ExplicitHashKey":
					if r.hasEHK {
						return nil, errSlowPath
					}
					r.ehk, r.hasEHK = v, true
				default:
					return nil, errSlowPath
				}
				if s.expect(',') {
					continue
				}
				if !s.expect('}') {
					return nil, errSlowPath
				}
				break
			}
		}
		raws = append(raws, r)
		if s.expect(',') {
			continue
		}
		if !s.expect(']') {
			return nil, errSlowPath
		}
		break
	}
	// All blobs share one slab, all keys and hash keys one string, and the
	// pointers to those one array: five allocations per call, none per
	// record.
	total, strLen, nStrs := 0, 0, 0
	for i := range raws {
		r := &raws[i]
		total += base64.StdEncoding.DecodedLen(len(r.data))
		if r.hasKey {
			strLen += len(r.key)
			nStrs++
		}
		if r.hasEHK {
			strLen += len(r.ehk)
			nStrs++
		}
	}
	slab := make([]byte, total)
	var sb strings.Builder
	sb.Grow(strLen)
	for i := range raws {
		sb.Write(raws[i].key)
		sb.Write(raws[i].ehk)
	}
	all := sb.String()
	strs := make([]string, nStrs)
	recs := make([]types.PutRecordsRequestEntry, len(raws))
	pos := 0
	for i := range raws {
		r := &raws[i]
		if r.hasData {
			n, err := base64.StdEncoding.Decode(slab, r.data)
			if err != nil {
				return nil, errSlowPath
			}
			recs[i].Data = slab[:n:n]
			slab = slab[n:]
		}
		if r.hasKey {
			strs[0] = all[pos : pos+len(r.key)]
			recs[i].PartitionKey = &strs[0]
			strs = strs[1:]
		}
		pos += len(r.key)
		if r.hasEHK {
			strs[0] = all[pos : pos+len(r.ehk)]
			recs[i].ExplicitHashKey = &strs[0]
			strs = strs[1:]
		}
		pos += len(r.ehk)
	}
	return recs, nil
}
