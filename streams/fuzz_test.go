package streams

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// FuzzRequest throws arbitrary bodies at every operation of the HTTP API.
// Whatever arrives, the answer must be a well-formed JSON response and
// never a server fault or a panic.
func FuzzRequest(f *testing.F) {
	seeds := []struct{ op, body string }{
		{"PutRecords", `{"StreamName":"f","Records":[{"PartitionKey":"k","Data":"aGVsbG8="}]}`},
		{"PutRecords", `{"StreamName":"f","Records":[{"PartitionKey":"k","Data":"aGVsbG8=","ExplicitHashKey":"340282366920938463463374607431768211456"}]}`},
		{"PutRecords", `{"StreamName":"f","Records":[]}`},
		{"PutRecords", `{"StreamName":"f","Records":[{"PartitionKey":"","Data":null}]}`},
		{"PutRecord", `{"StreamName":"f","PartitionKey":"k","Data":"eA==","SequenceNumberForOrdering":"1"}`},
		{"GetShardIterator", `{"StreamName":"f","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1459799926.480}`},
		{"GetShardIterator", `{"StreamName":"f","ShardId":"0","ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"99999999999999999999999999999999999999999"}`},
		{"GetRecords", `{"ShardIterator":"AQAAAAEAAAAAAAAAAAAAAAAAAAGUAAAAAAAAAAAAAAAAAAAAAAAA","Limit":5}`},
		{"ListShards", `{"StreamName":"f","ShardFilter":{"Type":"AT_TIMESTAMP","Timestamp":"2020-01-01T00:00:00Z"}}`},
		{"ListShards", `{"NextToken":"eyJzIjoiZiIsImEiOjAsInQiOjB9"}`},
		{"CreateStream", `{"StreamName":"g","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}`},
		{"SplitShard", `{"StreamName":"f","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"1"}`},
		{"UpdateShardCount", `{"StreamName":"f","TargetShardCount":2,"ScalingType":"UNIFORM_SCALING"}`},
		{"DescribeStream", `{"StreamName":"f","Limit":0}`},
		{"ListStreams", `{"NextToken":"!!"}`},
		{"Nope", `{}`},
		{"RegisterStreamConsumer", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/f","ConsumerName":"c"}`},
		{"SubscribeToShard", `{"ConsumerARN":"arn:aws:kinesis:us-east-1:000000000000:stream/f/consumer/c:1","ShardId":"shardId-000000000000","StartingPosition":{"Type":"TRIM_HORIZON"}}`},
		{"UpdateStreamMode", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/f","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}`},
		{"PutRecords", `{"StreamName":`},
		// Hostile input (issue 13): keys that are not Unicode text, ARNs
		// of another account, long values quoted in messages.
		{"PutRecords", `{"StreamName":"f","Records":[{"PartitionKey":"k","Data":"eA=="},{"PartitionKey":"\u0000","Data":"eA=="}]}`},
		{"PutRecords", `{"StreamName":"f","Records":[{"PartitionKey":"\ud800","Data":"eA=="}]}`},
		{"PutRecords", "{\"StreamName\":\"f\",\"Records\":[{\"PartitionKey\":\"\xff\",\"Data\":\"eA==\"}]}"},
		{"PutRecord", `{"StreamName":"f","PartitionKey":"\ud83d\udd11\udd11","Data":"eA=="}`},
		{"PutRecords", `{"StreamARN":"arn:aws:kinesis:us-east-1:999999999999:stream/f","Records":[{"PartitionKey":"k","Data":"eA=="}]}`},
		{"DeleteStream", `{"StreamARN":"arn:aws:kinesis:eu-west-1:000000000000:stream/f"}`},
		{"DescribeStreamConsumer", `{"ConsumerARN":"arn:aws:kinesis:us-east-1:999999999999:stream/f/consumer/c:1"}`},
		{"DescribeStreamSummary", `{"StreamName":"` + strings.Repeat("n", 2000) + `"}`},
		{"PutRecord", `{"StreamName":"f","PartitionKey":"` + strings.Repeat("k", 2000) + `","Data":"eA==","ExplicitHashKey":"` + strings.Repeat("9", 2000) + `"}`},
	}
	for _, s := range seeds {
		f.Add(s.op, []byte(s.body))
	}
	// A fuzzed RegisterStreamConsumer + SubscribeToShard must not stream
	// for the default five minutes.
	e := openTest(f, Options{SubscribeDuration: 10 * time.Millisecond})
	mustCreate(f, e, "f", 2)
	h := e.Handler()
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		// The service's bare InternalFailure is its answer to some
		// sequence numbers of its oldest layout (seqnum.go, foreignSeq).
		if rec.Code >= 500 && rec.Body.String() != `{"__type":"InternalFailure"}` {
			t.Fatalf("%s %q: status %d: %s", op, body, rec.Code, rec.Body)
		}
		if rec.Header().Get("Content-Type") == "application/vnd.amazon.eventstream" {
			return // a subscription found by the fuzzer: binary events
		}
		if rec.Code == 200 && rec.Body.Len() == 0 {
			return // an output without members: an empty body, as AWS sends
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: response is not JSON: %q", op, body, rec.Body)
		}
		if rec.Code != 200 {
			var e struct {
				Type string `json:"__type"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Type == "" {
				t.Fatalf("%s: error without __type: %s", op, rec.Body)
			}
			// Messages quote input capped (capQuoted): never the
			// request echoed back.
			if rec.Body.Len() > 4<<10 {
				t.Fatalf("%s: a %d-byte error for a %d-byte body", op, rec.Body.Len(), len(body))
			}
		}
	})
}

// FuzzDecodePutRecords checks the PutRecords fast path against
// encoding/json: whenever the fast path accepts a body, encoding/json must
// accept it too and produce the same input.
func FuzzDecodePutRecords(f *testing.F) {
	f.Add([]byte(`{"StreamName":"s","Records":[{"Data":"aGVsbG8=","PartitionKey":"k"}]}`))
	f.Add([]byte(`{"Records":[{"PartitionKey":"k","Data":"","ExplicitHashKey":"1"},{}],"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}`))
	f.Add([]byte(` { "Records" : [ ] } `))
	f.Add([]byte(`{"StreamName":"s\u0041","Records":[{"Data":"eA=="}]}`))
	f.Add([]byte(`{"streamname":"s","Records":[{"Data":"eA"}]}`))
	f.Add([]byte(`{"Records":[{"Data":"eA==","Data":"eQ=="}]}`))
	// Data is scanned for its closing quote only (scanner.blob): an escaped
	// quote, an escape, or a raw line break inside it must go the slow path.
	f.Add([]byte(`{"Records":[{"Data":"eA\"==","PartitionKey":"k"}]}`))
	f.Add([]byte(`{"Records":[{"Data":"eA\n==","PartitionKey":"k"}]}`))
	f.Add([]byte("{\"Records\":[{\"Data\":\"eA\n==\",\"PartitionKey\":\"k\"}]}"))
	// Keys that are not Unicode text must go the slow path, which refuses
	// them (jsonUnicodeProblem).
	f.Add([]byte(`{"Records":[{"Data":"eA==","PartitionKey":"\u0000"}]}`))
	f.Add([]byte(`{"Records":[{"Data":"eA==","PartitionKey":"\ud800"}]}`))
	f.Add([]byte("{\"Records\":[{\"Data\":\"eA==\",\"PartitionKey\":\"\xff\"}]}"))
	f.Add([]byte("{\"Records\":[{\"Data\":\"eA==\",\"PartitionKey\":\"a\x00\"}]}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast, slow kinesis.PutRecordsInput
		if fastDecodePutRecords(body, &fast) != nil {
			return
		}
		if err := json.Unmarshal(body, &slow); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json rejects it: %v", body, err)
		}
		if !reflect.DeepEqual(normalise(fast), normalise(slow)) {
			t.Fatalf("%q decoded differently:\nfast %#v\nslow %#v", body, normalise(fast), normalise(slow))
		}
	})
}

type flatRecord struct {
	Data     string
	HasData  bool
	Key, EHK *string
}

func normalise(in kinesis.PutRecordsInput) []any {
	out := []any{in.StreamName, in.StreamARN, in.Records == nil}
	for _, r := range in.Records {
		out = append(out, flatRecord{string(r.Data), r.Data != nil, r.PartitionKey, r.ExplicitHashKey})
	}
	return out
}

// FuzzRequestCBOR throws arbitrary CBOR bodies at every operation: the
// answer must be a well-formed CBOR map in CBOR, never a server fault or a
// panic. Seeds are the JSON seeds re-encoded, plus byte-string blobs and
// millisecond timestamps.
func FuzzRequestCBOR(f *testing.F) {
	add := func(op string, v any) {
		b, err := cborEnc.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(op, b)
	}
	for _, s := range []struct{ op, body string }{
		{"PutRecords", `{"StreamName":"f","Records":[{"PartitionKey":"k","Data":"aGVsbG8="}]}`},
		{"GetShardIterator", `{"StreamName":"f","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1459799926480}`},
		{"ListShards", `{"StreamName":"f","ShardFilter":{"Type":"AT_TIMESTAMP","Timestamp":1459799926.5}}`},
		{"CreateStream", `{"StreamName":"g","StreamModeDetails":{"StreamMode":"ON_DEMAND"}}`},
		{"AddTagsToStream", `{"StreamName":"f","Tags":{"a":"b"}}`},
		{"DescribeStream", `{"StreamName":"f","Limit":0}`},
	} {
		var v any
		if err := json.Unmarshal([]byte(s.body), &v); err != nil {
			f.Fatal(err)
		}
		add(s.op, v)
	}
	add("PutRecord", map[string]any{"StreamName": "f", "PartitionKey": "k", "Data": []byte{0, 1, 2}})
	add("PutRecords", map[string]any{"StreamName": "f", "Records": []any{map[string]any{"PartitionKey": "k", "Data": []byte{0xff}}}})
	f.Add("GetRecords", []byte{0xa1, 0x6d, 'S', 'h', 'a', 'r', 'd', 'I', 't', 'e', 'r', 'a', 't', 'o', 'r', 0xf6})
	f.Add("PutRecords", []byte{0xbf, 0xff})
	// Hostile input (issue 13), assembled by hand: encoders refuse text
	// that is not UTF-8.
	f.Add("PutRecords", cborMapOf(cborText("StreamName"), cborText("f"), cborText("Records"),
		cborArrayOf(cborRecord("k", "x"), cborRecord("\xff", "x"))))
	f.Add("PutRecord", cborMapOf(cborText("StreamName"), cborText("f"), cborText("PartitionKey"), cborText("\x00"), cborText("Data"), cborBlob("x")))
	f.Add("PutRecord", cborMapOf(cborText("StreamARN"), cborText("arn:aws:kinesis:us-east-1:999999999999:stream/f"),
		cborText("PartitionKey"), cborText("k"), cborText("Data"), cborBlob("x")))
	f.Add("DescribeStreamSummary", cborMapOf(cborText("StreamName"), cborText(strings.Repeat("n", 2000))))
	// A fuzzed RegisterStreamConsumer + SubscribeToShard must not stream
	// for the default five minutes.
	e := openTest(f, Options{SubscribeDuration: 10 * time.Millisecond})
	mustCreate(f, e, "f", 2)
	h := e.Handler()
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
		req.Header.Set("Content-Type", "application/x-amz-cbor-1.1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %x: status %d: %x", op, body, rec.Code, rec.Body)
		}
		if rec.Header().Get("Content-Type") == "application/vnd.amazon.eventstream" {
			return
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/x-amz-cbor-1.1" {
			t.Fatalf("%s: answered in %q", op, ct)
		}
		var m map[string]any
		if err := cborDec.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %x: response is not a CBOR map: %v", op, body, err)
		}
		if rec.Code != 200 {
			if typ, _ := m["__type"].(string); typ == "" {
				t.Fatalf("%s: error without __type: %v", op, m)
			}
		}
	})
}
