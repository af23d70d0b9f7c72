package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/sdk/jsonobj"
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

// scrub appends the scrubbed form of the JSON object in data to out: the
// dropped fields left out (compared decoded, so "user\u005fid" is user_id
// too), the ip field anonymised, everything else as written. sdk/jsonobj
// validates the object and finds its members without decoding them.
func scrub(data, out []byte) ([]byte, error) {
	o, err := jsonobj.Parse(data)
	if err != nil {
		return nil, err
	}
	out = append(out, '{')
	for it := o.Members(); it.Next(); {
		m := it.Member()
		if isDropped(m.Key) {
			continue
		}
		if out[len(out)-1] != '{' {
			out = append(out, ',')
		}
		out = append(out, m.RawKey...)
		out = append(out, ':')
		if string(m.Key) == "ip" {
			out = anonymiseIP(m.Value, out)
		} else {
			out = append(out, m.Value...)
		}
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
