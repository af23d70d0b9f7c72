package streams

import (
	"encoding/base64"
	"encoding/json"
	"errors"

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

func (s *scanner) records() ([]types.PutRecordsRequestEntry, error) {
	if !s.expect('[') {
		return nil, errSlowPath
	}
	recs := make([]types.PutRecordsRequestEntry, 0, 16)
	// Blobs are decoded after the scan into one slab sized from their
	// base64 lengths.
	var blobs [][]byte
	var strs []string
	if s.expect(']') {
		return recs, nil
	}
	for {
		if !s.expect('{') {
			return nil, errSlowPath
		}
		var r types.PutRecordsRequestEntry
		var data []byte
		hasData := false
		var key, ehk []byte
		hasKey, hasEHK := false, false
		if !s.expect('}') {
			for {
				k, ok := s.str()
				if !ok || !s.expect(':') {
					return nil, errSlowPath
				}
				v, ok := s.str()
				if !ok {
					return nil, errSlowPath
				}
				// A repeated member goes the slow path: encoding/json
				// decodes (and may reject) every occurrence.
				switch string(k) {
				case "Data":
					if hasData {
						return nil, errSlowPath
					}
					data, hasData = v, true
				case "PartitionKey":
					if hasKey {
						return nil, errSlowPath
					}
					key, hasKey = v, true
				case "ExplicitHashKey":
					if hasEHK {
						return nil, errSlowPath
					}
					ehk, hasEHK = v, true
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
		blobs = append(blobs, data)
		if !hasData {
			blobs[len(blobs)-1] = nil
		}
		// Keys and hash keys share one string allocation below.
		strs = append(strs, string(key), string(ehk))
		if hasKey {
			r.PartitionKey = new(string)
		}
		if hasEHK {
			r.ExplicitHashKey = new(string)
		}
		recs = append(recs, r)
		if s.expect(',') {
			continue
		}
		if !s.expect(']') {
			return nil, errSlowPath
		}
		break
	}
	total := 0
	for _, b := range blobs {
		total += base64.StdEncoding.DecodedLen(len(b))
	}
	slab := make([]byte, total)
	for i := range recs {
		if blobs[i] != nil {
			n, err := base64.StdEncoding.Decode(slab, blobs[i])
			if err != nil {
				return nil, errSlowPath
			}
			recs[i].Data = slab[:n:n]
			slab = slab[n:]
		}
		if recs[i].PartitionKey != nil {
			*recs[i].PartitionKey = strs[2*i]
		}
		if recs[i].ExplicitHashKey != nil {
			*recs[i].ExplicitHashKey = strs[2*i+1]
		}
	}
	return recs, nil
}
