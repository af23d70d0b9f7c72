package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
)

// dropped are the top-level fields removed from every event.
var dropped = [][]byte{[]byte("user_id"), []byte("user_agent"), []byte("email")}

// handle scrubs every record of the batch, in order. A record that is not a
// JSON object fails the invocation (the mapping retries or bisects it to its
// on-failure destination), so nothing unscrubbed is ever passed on.
//
// The output records share one buffer sized for the whole batch: one
// allocation per batch instead of one per record.
func handle(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
	out := make([]sdk.OutputRecord, 0, len(e.Records))
	size := 0
	for _, r := range e.Records {
		size += len(r.Kinesis.Data)
	}
	buf := make([]byte, 0, size)
	for i, r := range e.Records {
		start := len(buf)
		var err error
		if buf, err = scrub(r.Kinesis.Data, buf); err != nil {
			return sdk.StreamResponse{}, fmt.Errorf("scrub: record %d of %d (sequence number %s): %w", i+1, len(e.Records), r.Kinesis.SequenceNumber, err)
		}
		// The full slice expression keeps the next record from being
		// written over this one.
		out = append(out, sdk.OutputRecord{Data: buf[start:len(buf):len(buf)]})
	}
	return sdk.StreamResponse{Records: out}, nil
}

var errNotObject = errors.New("not a JSON object")

// scrub appends the scrubbed form of the JSON object in data to out.
func scrub(data, out []byte) ([]byte, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, errNotObject
	}
	out = append(out, '{')
	i = skipSpace(data, i+1)
	first := true
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			if i >= len(data) || data[i] != '"' {
				return nil, fmt.Errorf("%w: expected a key at byte %d", errNotObject, i)
			}
			keyStart := i
			keyEnd, err := skipString(data, i)
			if err != nil {
				return nil, err
			}
			key := data[keyStart+1 : keyEnd-1]
			if bytes.IndexByte(key, '\\') >= 0 {
				// "user\u005fid" is user_id: refuse rather than risk
				// passing a PII field under an escaped name.
				return nil, fmt.Errorf("%w: escaped key at byte %d", errNotObject, keyStart)
			}
			i = skipSpace(data, keyEnd)
			if i >= len(data) || data[i] != ':' {
				return nil, fmt.Errorf("%w: expected ':' at byte %d", errNotObject, i)
			}
			vStart := skipSpace(data, i+1)
			vEnd, err := skipValue(data, vStart)
			if err != nil {
				return nil, err
			}
			value := data[vStart:vEnd]
			if !isDropped(key) {
				if !first {
					out = append(out, ',')
				}
				first = false
				out = append(out, data[keyStart:keyEnd]...) // the key, quoted
				out = append(out, ':')
				if string(key) == "ip" {
					out = anonymiseIP(value, out)
				} else {
					out = append(out, value...)
				}
			}
			i = skipSpace(data, vEnd)
			if i < len(data) && data[i] == ',' {
				i = skipSpace(data, i+1)
				continue
			}
			if i < len(data) && data[i] == '}' {
				i++
				break
			}
			return nil, fmt.Errorf("%w: expected ',' or '}' at byte %d", errNotObject, i)
		}
	}
	if skipSpace(data, i) != len(data) {
		return nil, fmt.Errorf("%w: trailing data at byte %d", errNotObject, i)
	}
	return append(out, '}'), nil
}

func isDropped(key []byte) bool {
	for _, d := range dropped {
		if bytes.Equal(key, d) {
			return true
		}
	}
	return false
}

// anonymiseIP appends the anonymised form of a JSON value holding an IP
// address: "81.116.17.97" → "81.116.17.0", "2001:db8:85a3::8a2e:370:7334" →
// "2001:db8:85a3::". Anything else (not a string, not an address) becomes
// null: an unknown shape must not leak through.
func anonymiseIP(v, out []byte) []byte {
	if len(v) < 2 || v[0] != '"' || bytes.IndexByte(v[1:len(v)-1], '\\') >= 0 {
		return append(out, "null"...)
	}
	s := v[1 : len(v)-1]
	if dot := bytes.LastIndexByte(s, '.'); dot > 0 && bytes.Count(s, []byte{'.'}) == 3 && bytes.IndexByte(s, ':') < 0 {
		out = append(out, '"')
		out = append(out, s[:dot]...)
		return append(out, ".0\""...)
	}
	if bytes.Count(s, []byte{':'}) >= 2 {
		groups := bytes.SplitN(s, []byte{':'}, 4)
		if len(groups) == 4 {
			out = append(out, '"')
			out = append(out, bytes.Join(groups[:3], []byte{':'})...)
			return append(out, "::\""...)
		}
	}
	return append(out, "null"...)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: unterminated string at byte %d", errNotObject, i)
}

// skipValue returns the index after the JSON value starting at b[i]. It
// checks structure (strings, nesting), not the grammar of literals.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("%w: missing value", errNotObject)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("%w: unterminated value at byte %d", errNotObject, i)
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("%w: missing value at byte %d", errNotObject, i)
		}
		return j, nil
	}
}
