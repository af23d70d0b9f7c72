package streams

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/testpeers"
)

// The CBOR protocol is tested against node-cbor (tools/cbor-npm, pinned and
// installed by `make deps`), an encoder and decoder we did not write: it
// produces every request body and reads every response body, so a symmetric
// mistake in our codec cannot pass. No Java SDK or KCL can be installed
// here, so this is the closest independent client available.

// cborPeer runs tools/cbor-npm/cbor-tool.cjs: it encodes trees (JSON with
// {"$bytes"}, {"$tag"}, {"$float"} escapes) and decodes CBOR bodies back to
// such trees.
func cborPeer(t *testing.T, encode []any, decode [][]byte) (encoded [][]byte, decoded []any) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed: the CBOR tests need Node.js 20 or later")
	}
	dir := filepath.Join(testpeers.RepoRoot(t), "tools", "cbor-npm")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "cbor", "package.json")); err != nil {
		t.Fatal("tools/cbor-npm/node_modules/cbor is missing: run `make deps`")
	}
	req := map[string]any{"encode": encode, "decode": []string{}}
	for _, b := range decode {
		req["decode"] = append(req["decode"].([]string), hex.EncodeToString(b))
	}
	in, _ := json.Marshal(req)
	cmd := exec.Command("node", "cbor-tool.cjs")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cbor-tool: %v: %s", err, stderr.String())
	}
	var resp struct {
		Encoded []string
		Decoded []any
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("cbor-tool output: %v: %s", err, out)
	}
	for _, h := range resp.Encoded {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		encoded = append(encoded, b)
	}
	return encoded, resp.Decoded
}

func blob(b []byte) map[string]any {
	return map[string]any{"$bytes": base64.StdEncoding.EncodeToString(b)}
}

type cborCall struct {
	op   string
	body any // tree for node to encode
}

type cborAnswer struct {
	status int
	ctype  string
	body   []byte
}

func postCBOR(t *testing.T, h http.Handler, op string, body []byte) cborAnswer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Content-Type", "application/x-amz-cbor-1.1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return cborAnswer{rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()}
}

func run(t *testing.T, h http.Handler, calls []cborCall) []cborAnswer {
	t.Helper()
	trees := make([]any, len(calls))
	for i, c := range calls {
		trees[i] = c.body
	}
	bodies, _ := cborPeer(t, trees, nil)
	out := make([]cborAnswer, len(calls))
	for i, c := range calls {
		out[i] = postCBOR(t, h, c.op, bodies[i])
		if out[i].ctype != cborContentType {
			t.Errorf("%s: answered with Content-Type %q, want %s", c.op, out[i].ctype, cborContentType)
		}
	}
	return out
}

func field(t *testing.T, tree any, path ...any) any {
	t.Helper()
	cur := tree
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("at %v: %T is not a map (tree %v)", path, cur, tree)
			}
			cur = m[k]
		case int:
			a, ok := cur.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("at %v: %T is not a long enough array (tree %v)", path, cur, tree)
			}
			cur = a[k]
		}
	}
	return cur
}

func TestCBORProtocol(t *testing.T) {
	clk := newFakeClock()
	e := openTest(t, Options{Clock: clk.Now})
	h := e.Handler()
	payload := []byte{0x00, 0xff, 0x10, 'h', 'i', 0x80}
	created := clk.Now().UnixMilli()

	first := run(t, h, []cborCall{
		{"CreateStream", map[string]any{"StreamName": "cb", "ShardCount": 2}},
		{"PutRecords", map[string]any{"StreamName": "cb", "Records": []any{
			map[string]any{"Data": blob(payload), "PartitionKey": "a"},
			map[string]any{"Data": blob([]byte("second")), "PartitionKey": "a"},
		}}},
		{"PutRecord", map[string]any{"StreamName": "cb", "Data": blob([]byte("third")), "PartitionKey": "a"}},
		{"DescribeStream", map[string]any{"StreamName": "missing"}},
		{"PutRecord", map[string]any{"StreamName": "cb", "Data": blob(nil), "PartitionKey": strings.Repeat("k", 257)}},
		// ShardFilter timestamp as an integer of epoch milliseconds.
		{"ListShards", map[string]any{"StreamName": "cb", "ShardFilter": map[string]any{"Type": "AT_TIMESTAMP", "Timestamp": created}}},
		{"DescribeStreamSummary", map[string]any{"StreamName": "cb"}},
	})
	wantStatus := []int{200, 200, 200, 400, 400, 200, 200}
	for i, a := range first {
		if a.status != wantStatus[i] {
			t.Errorf("call %d: status %d, want %d", i, a.status, wantStatus[i])
		}
	}
	bodies := make([][]byte, len(first))
	for i, a := range first {
		bodies[i] = a.body
	}
	_, dec := cborPeer(t, nil, bodies)

	if m, ok := dec[0].(map[string]any); !ok || len(m) != 0 {
		t.Errorf("CreateStream answer %v, want an empty map", dec[0])
	}
	if n := field(t, dec[1], "FailedRecordCount"); n != 0.0 {
		t.Errorf("FailedRecordCount %v", n)
	}
	shard := field(t, dec[1], "Records", 0, "ShardId").(string)
	seq0 := field(t, dec[1], "Records", 0, "SequenceNumber").(string)
	seq1 := field(t, dec[1], "Records", 1, "SequenceNumber").(string)
	if seq0 >= seq1 && len(seq0) == len(seq1) {
		t.Errorf("sequence numbers not increasing: %s, %s", seq0, seq1)
	}
	if got := field(t, dec[2], "ShardId"); got != shard {
		t.Errorf("PutRecord went to %v, PutRecords to %s", got, shard)
	}
	if typ := field(t, dec[3], "__type"); typ != "ResourceNotFoundException" {
		t.Errorf("error __type %v", typ)
	}
	if msg := field(t, dec[3], "message").(string); !strings.Contains(msg, "Stream missing under account 000000000000 not found") {
		t.Errorf("error message %q", msg)
	}
	if typ := field(t, dec[4], "__type"); typ != "ValidationException" {
		t.Errorf("long key: __type %v", typ)
	}
	if n := len(field(t, dec[5], "Shards").([]any)); n != 2 {
		t.Errorf("ListShards AT_TIMESTAMP returned %d shards", n)
	}
	// Timestamps go out as integers of epoch milliseconds (docs/semantics.md,
	// "Kinesis wire protocol").
	if ts := field(t, dec[6], "StreamDescriptionSummary", "StreamCreationTimestamp"); ts != float64(created) {
		t.Errorf("StreamCreationTimestamp %v (%T), want %d", ts, ts, created)
	}

	// Iterators: AT_TIMESTAMP as an integer of ms, and as Java's tag-1
	// millis form; TRIM_HORIZON.
	its := run(t, h, []cborCall{
		{"GetShardIterator", map[string]any{"StreamName": "cb", "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}},
		{"GetShardIterator", map[string]any{"StreamName": "cb", "ShardId": shard, "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": created}},
		{"GetShardIterator", map[string]any{"StreamName": "cb", "ShardId": shard, "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": map[string]any{"$tag": 1, "value": created}}},
		{"GetShardIterator", map[string]any{"StreamName": "cb", "ShardId": shard, "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": map[string]any{"$float": float64(created-1500) / 1000}}},
	})
	var calls []cborCall
	for i, a := range its {
		if a.status != 200 {
			t.Fatalf("GetShardIterator %d: status %d", i, a.status)
		}
		var out kinesis.GetShardIteratorOutput
		if err := cborDec.Unmarshal(a.body, &out); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, cborCall{"GetRecords", map[string]any{"ShardIterator": *out.ShardIterator, "Limit": 100}})
	}
	recs := run(t, h, calls)
	bodies = bodies[:0]
	for _, a := range recs {
		bodies = append(bodies, a.body)
	}
	_, dec = cborPeer(t, nil, bodies)
	wantN := []int{3, 3, 3, 3}
	for i, d := range dec {
		got := field(t, d, "Records").([]any)
		if len(got) != wantN[i] {
			t.Errorf("GetRecords %d: %d records, want %d", i, len(got), wantN[i])
			continue
		}
		if _, ok := field(t, d, "NextShardIterator").(string); !ok {
			t.Errorf("GetRecords %d: no NextShardIterator", i)
		}
		if len(got) == 0 {
			continue
		}
		if b := field(t, got[0], "Data"); !equalTree(b, blob(payload)) {
			t.Errorf("Data came back as %v, want byte string %v", b, blob(payload))
		}
		if ts := field(t, got[0], "ApproximateArrivalTimestamp"); ts != float64(created) {
			t.Errorf("ApproximateArrivalTimestamp %v (%T), want integer %d", ts, ts, created)
		}
		if k := field(t, got[2], "PartitionKey"); k != "a" {
			t.Errorf("PartitionKey %v", k)
		}
	}

	// What CBOR wrote, the JSON SDK client reads back byte for byte.
	c := sdkClient(t, e)
	it, err := c.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{
		StreamName: aws.String("cb"), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 3 || !bytes.Equal(out.Records[0].Data, payload) || *out.Records[0].SequenceNumber != seq0 ||
		!out.Records[0].ApproximateArrivalTimestamp.Equal(time.UnixMilli(created)) {
		t.Fatalf("JSON read of CBOR writes: %+v", out.Records)
	}
}

func equalTree(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestCBORDecodeTable checks member conversion rules without node.
func TestCBORDecodeTable(t *testing.T) {
	enc := func(v any) []byte {
		b, err := cborEnc.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		body    []byte
		in      any
		check   func(any) bool
		wantErr bool
	}{
		{"ms integer timestamp", enc(map[string]any{"Timestamp": int64(1700000000123)}), &kinesis.GetShardIteratorInput{},
			func(x any) bool { return x.(*kinesis.GetShardIteratorInput).Timestamp.UnixMilli() == 1700000000123 }, false},
		{"float seconds timestamp", enc(map[string]any{"Timestamp": 1700000000.5}), &kinesis.GetShardIteratorInput{},
			func(x any) bool { return x.(*kinesis.GetShardIteratorInput).Timestamp.UnixMilli() == 1700000000500 }, false},
		{"lower-case members", enc(map[string]any{"streamname": "s", "limit": 5}), &kinesis.DescribeStreamInput{},
			func(x any) bool {
				in := x.(*kinesis.DescribeStreamInput)
				return *in.StreamName == "s" && *in.Limit == 5
			}, false},
		{"int32 overflow", enc(map[string]any{"Limit": int64(1) << 40}), &kinesis.DescribeStreamInput{}, nil, true},
		{"string for int", enc(map[string]any{"Limit": "5"}), &kinesis.DescribeStreamInput{}, nil, true},
		{"array for struct", enc([]any{1}), &kinesis.DescribeStreamInput{}, nil, true},
		{"null members stay unset", enc(map[string]any{"StreamName": nil}), &kinesis.DescribeStreamInput{},
			func(x any) bool { return x.(*kinesis.DescribeStreamInput).StreamName == nil }, false},
		{"tags map", enc(map[string]any{"Tags": map[string]any{"a": "b"}}), &kinesis.AddTagsToStreamInput{},
			func(x any) bool { return x.(*kinesis.AddTagsToStreamInput).Tags["a"] == "b" }, false},
		{"truncated", []byte{0xa1, 0x61}, &kinesis.DescribeStreamInput{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cborCodec{}.decode(tt.body, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && tt.check != nil && !tt.check(tt.in) {
				t.Fatalf("decoded %+v", tt.in)
			}
		})
	}
}

// TestRecordsJSONMatchesReflection holds the hand-written records encoder
// to the reflective one it replaces.
func TestRecordsJSONMatchesReflection(t *testing.T) {
	ts := time.UnixMilli(1700000000123)
	recs := []types.Record{
		{Data: []byte{0, 1, 0xff}, SequenceNumber: aws.String("49"), ApproximateArrivalTimestamp: &ts, PartitionKey: aws.String("k\"é\x01")},
		{Data: []byte{}, PartitionKey: aws.String("")},
		{EncryptionType: types.EncryptionTypeKms},
		{},
	}
	for i := range recs {
		one := recs[i : i+1]
		var slow []byte
		v := reflect.ValueOf(one)
		slow = append(slow, '[')
		for j := 0; j < v.Len(); j++ {
			var err error
			if slow, err = appendJSONValue(slow, v.Index(j)); err != nil {
				t.Fatal(err)
			}
		}
		slow = append(slow, ']')
		if fast := appendRecordsJSON(nil, one); !bytes.Equal(fast, slow) {
			t.Errorf("record %d:\nfast %s\nslow %s", i, fast, slow)
		}
	}
	puts := []types.PutRecordsResultEntry{
		{SequenceNumber: aws.String("49590338271490256608559692538361571095921575989136588898"), ShardId: aws.String("shardId-000000000000")},
		{ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("Rate exceeded for shard \"x\"")},
		{},
	}
	for i := range puts {
		one := puts[i : i+1]
		v := reflect.ValueOf(one).Index(0)
		slow, err := appendJSONValue([]byte{'['}, v)
		if err != nil {
			t.Fatal(err)
		}
		slow = append(slow, ']')
		if fast := appendPutResultsJSON(nil, one); !bytes.Equal(fast, slow) {
			t.Errorf("put result %d:\nfast %s\nslow %s", i, fast, slow)
		}
	}
}
