package streams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// Hostile input (issue 13): keys that are not Unicode text, ARNs of
// another account or region, and 100 KB values. Every case goes through
// the real HTTP API, with the SDK where it sends the input and with raw
// JSON or hand-assembled CBOR where it would not; each checks the error
// type and that the message says what is wrong, and the shared stream's
// log is compared at the end with exactly the records that were
// acknowledged.

// hostileEnv is one engine and stream shared by the hostile-input tests.
type hostileEnv struct {
	t     *testing.T
	e     *Engine
	url   string
	sdk   *kinesis.Client
	acked []string // "key|data" of every acknowledged record, in order
}

const hostileStream = "s"

func newHostileEnv(t *testing.T) *hostileEnv {
	e := openTest(t, Options{})
	mustCreate(t, e, hostileStream, 1)
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	return &hostileEnv{t: t, e: e, url: srv.URL, sdk: sdkClientFor(srv.URL)}
}

// call sends body to op with the given content type ("json" or "cbor")
// and returns the status and, for an error, its type and message.
func (h *hostileEnv) call(op, ctype string, body []byte) (status int, typ, msg string, resp []byte) {
	h.t.Helper()
	ct := "application/x-amz-json-1.1"
	if ctype == "cbor" {
		ct = cborContentType
	}
	req, err := http.NewRequest(http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	req.Header.Set("Content-Type", ct)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	resp, err = io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	if res.StatusCode == http.StatusOK {
		return res.StatusCode, "", "", resp
	}
	m := map[string]any{}
	if ctype == "cbor" {
		err = cborDec.Unmarshal(resp, &m)
	} else {
		err = json.Unmarshal(resp, &m)
	}
	if err != nil {
		h.t.Fatalf("%s: error body %q: %v", op, resp, err)
	}
	typ, _ = m["__type"].(string)
	msg, _ = m["message"].(string)
	if msg == "" {
		msg, _ = m["Message"].(string)
	}
	return res.StatusCode, typ, msg, resp
}

// ack records a record the service acknowledged.
func (h *hostileEnv) ack(key, data string) { h.acked = append(h.acked, key+"|"+data) }

// checkLog reads the stream from TRIM_HORIZON: it must hold exactly the
// acknowledged records, in order, and nothing of a refused request.
func (h *hostileEnv) checkLog() {
	h.t.Helper()
	ctx := context.Background()
	it, err := h.sdk.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(hostileStream),
		ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		h.t.Fatal(err)
	}
	out, err := h.sdk.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		h.t.Fatal(err)
	}
	var got []string
	for _, r := range out.Records {
		got = append(got, *r.PartitionKey+"|"+string(r.Data))
	}
	if strings.Join(got, "\n") != strings.Join(h.acked, "\n") {
		h.t.Fatalf("the stream holds\n%q\nwant exactly the acknowledged records\n%q", got, h.acked)
	}
}

func apiError(t *testing.T, err error) (typ, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want a service error, got %v", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Hand-assembled CBOR (RFC 8949), independent of the codec under test and
// able to carry text strings that are not UTF-8, which encoders refuse.
func cborHead(major byte, n int) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n < 1<<8:
		return []byte{major<<5 | 24, byte(n)}
	case n < 1<<16:
		return []byte{major<<5 | 25, byte(n >> 8), byte(n)}
	}
	return []byte{major<<5 | 26, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

func cborText(s string) []byte { return append(cborHead(3, len(s)), s...) }
func cborBlob(b string) []byte { return append(cborHead(2, len(b)), b...) }

func cborMapOf(kv ...[]byte) []byte {
	out := cborHead(5, len(kv)/2)
	for _, x := range kv {
		out = append(out, x...)
	}
	return out
}

func cborArrayOf(items ...[]byte) []byte {
	out := cborHead(4, len(items))
	for _, x := range items {
		out = append(out, x...)
	}
	return out
}

func cborRecord(key, data string) []byte {
	return cborMapOf(cborText("PartitionKey"), cborText(key), cborText("Data"), cborBlob(data))
}

// TestHostilePartitionKeys: a partition key with a NUL, or that is not
// Unicode text (bytes that are not UTF-8, a lone surrogate escape), is
// refused for the whole request over every path (SDK, the JSON fast and
// slow paths, CBOR, the in-process client), and nothing of the request is
// written; Unicode keys that are fine are stored as sent.
func TestHostilePartitionKeys(t *testing.T) {
	h := newHostileEnv(t)
	ctx := context.Background()
	sdkPut := func(key, data string) error {
		_, err := h.sdk.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(hostileStream), PartitionKey: aws.String(key), Data: []byte(data)})
		return err
	}
	sdkPuts := func(keys ...string) error {
		var recs []types.PutRecordsRequestEntry
		for i, k := range keys {
			recs = append(recs, types.PutRecordsRequestEntry{PartitionKey: aws.String(k), Data: []byte{'d', byte('0' + i)}})
		}
		_, err := h.sdk.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(hostileStream), Records: recs})
		return err
	}

	// Keys that are fine, non-ASCII included, before and after: written
	// and read back as sent.
	for _, k := range []string{"plain", "ключ-🔑", "tab\there"} {
		if err := sdkPut(k, "ok"); err != nil {
			t.Fatalf("PutRecord %q: %v", k, err)
		}
		h.ack(k, "ok")
	}
	// A surrogate pair escape is one character (U+1F511), not two halves.
	if st, typ, msg, _ := h.call("PutRecords", "json", []byte(`{"StreamName":"s","Records":[{"PartitionKey":"pair-\ud83d\udd11","Data":"b2s="}]}`)); st != 200 {
		t.Fatalf("surrogate pair: %d %s %s", st, typ, msg)
	}
	h.ack("pair-🔑", "ok")

	type want struct{ typ, says string }
	nulKey := want{"InvalidArgumentException", "NUL (U+0000)"}
	notUTF8 := want{"SerializationException", "not valid UTF-8"}
	lone := want{"SerializationException", "surrogate pair without its other half"}
	cborUTF8 := want{"SerializationException", "invalid UTF-8"}
	good := cborRecord("good", "ok")
	cases := []struct {
		name string
		run  func(t *testing.T) (typ, msg string)
		want want
	}{
		{"SDK PutRecord, NUL in the key", func(t *testing.T) (string, string) { return apiError(t, sdkPut("a\x00b", "x")) }, nulKey},
		{"SDK PutRecords, NUL in the second of three keys", func(t *testing.T) (string, string) { return apiError(t, sdkPuts("g1", "b\x00", "g3")) },
			want{"InvalidArgumentException", "NUL (U+0000) at byte offset 1 for record 2."}},
		{"SDK PutRecords, key of only a NUL", func(t *testing.T) (string, string) { return apiError(t, sdkPuts("\x00")) }, nulKey},
		{"JSON PutRecords, \\u0000 escape", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecords", "json", []byte(`{"StreamName":"s","Records":[{"PartitionKey":"g","Data":"eA=="},{"PartitionKey":"\u0000","Data":"eA=="}]}`))
			return typ, msg
		}, nulKey},
		{"JSON PutRecords, raw byte 0xff in a key", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecords", "json", []byte("{\"StreamName\":\"s\",\"Records\":[{\"PartitionKey\":\"g\",\"Data\":\"eA==\"},{\"PartitionKey\":\"\xff\",\"Data\":\"eA==\"}]}"))
			return typ, msg
		}, notUTF8},
		{"JSON PutRecord, raw byte 0xff in the key", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecord", "json", []byte("{\"StreamName\":\"s\",\"PartitionKey\":\"a\xffb\",\"Data\":\"eA==\"}"))
			return typ, msg
		}, notUTF8},
		{"JSON PutRecords, overlong UTF-8 for NUL (0xc0 0x80)", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecords", "json", []byte("{\"StreamName\":\"s\",\"Records\":[{\"PartitionKey\":\"\xc0\x80\",\"Data\":\"eA==\"}]}"))
			return typ, msg
		}, notUTF8},
		{"JSON PutRecords, lone high surrogate", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecords", "json", []byte(`{"StreamName":"s","Records":[{"PartitionKey":"g","Data":"eA=="},{"PartitionKey":"a\ud800","Data":"eA=="}]}`))
			return typ, msg
		}, lone},
		{"JSON PutRecords, lone low surrogate", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecords", "json", []byte(`{"StreamName":"s","Records":[{"PartitionKey":"\uDC00x","Data":"eA=="}]}`))
			return typ, msg
		}, lone},
		{"JSON PutRecords, two high surrogates", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecords", "json", []byte(`{"StreamName":"s","Records":[{"PartitionKey":"\ud83d\ud83d","Data":"eA=="}]}`))
			return typ, msg
		}, lone},
		{"JSON PutRecord, lone surrogate", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecord", "json", []byte(`{"StreamName":"s","PartitionKey":"\ud800","Data":"eA=="}`))
			return typ, msg
		}, lone},
		{"CBOR PutRecords, text string that is not UTF-8 among good keys", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecords", "cbor", cborMapOf(cborText("StreamName"), cborText("s"),
				cborText("Records"), cborArrayOf(good, cborRecord("bad\xff", "x"), good)))
			return typ, msg
		}, cborUTF8},
		{"CBOR PutRecords, NUL among good keys", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecords", "cbor", cborMapOf(cborText("StreamName"), cborText("s"),
				cborText("Records"), cborArrayOf(good, good, cborRecord("n\x00", "x"))))
			return typ, msg
		}, want{"InvalidArgumentException", "for record 3."}},
		{"CBOR PutRecord, NUL in the key", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecord", "cbor", cborMapOf(cborText("StreamName"), cborText("s"),
				cborText("PartitionKey"), cborText("\x00"), cborText("Data"), cborBlob("x")))
			return typ, msg
		}, nulKey},
		{"CBOR PutRecord, UTF-8-encoded surrogate (0xed 0xa0 0x80)", func(t *testing.T) (string, string) {
			_, typ, msg, _ := h.call("PutRecord", "cbor", cborMapOf(cborText("StreamName"), cborText("s"),
				cborText("PartitionKey"), cborText("\xed\xa0\x80"), cborText("Data"), cborBlob("x")))
			return typ, msg
		}, cborUTF8},
		{"in-process PutRecords, key that is not UTF-8", func(t *testing.T) (string, string) {
			_, err := h.e.Client().PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(hostileStream), Records: []types.PutRecordsRequestEntry{
				{PartitionKey: aws.String("g"), Data: []byte("x")}, {PartitionKey: aws.String("k\xfe"), Data: []byte("x")}}})
			return apiError(t, err)
		}, want{"InvalidArgumentException", "invalid byte 0xfe at byte offset 1 for record 2."}},
		{"in-process PutRecord, NUL", func(t *testing.T) (string, string) {
			_, err := h.e.Client().PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(hostileStream), PartitionKey: aws.String("\x00"), Data: []byte("x")})
			return apiError(t, err)
		}, nulKey},
		// The other members with NUL: refused by their model patterns.
		{"SDK PutRecord, NUL in ExplicitHashKey", func(t *testing.T) (string, string) {
			_, err := h.sdk.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(hostileStream), PartitionKey: aws.String("k"), Data: []byte("x"), ExplicitHashKey: aws.String("1\x002")})
			return apiError(t, err)
		}, want{"ValidationException", "at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"}},
		{"SDK PutRecords, NUL in an ExplicitHashKey", func(t *testing.T) (string, string) {
			_, err := h.sdk.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(hostileStream), Records: []types.PutRecordsRequestEntry{
				{PartitionKey: aws.String("g"), Data: []byte("x")}, {PartitionKey: aws.String("k"), Data: []byte("x"), ExplicitHashKey: aws.String("\x00")}}})
			return apiError(t, err)
		}, want{"ValidationException", "at 'records.2.member.explicitHashKey' failed to satisfy constraint"}},
		{"SDK PutRecord, NUL in the stream name", func(t *testing.T) (string, string) {
			_, err := h.sdk.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s\x00"), PartitionKey: aws.String("k"), Data: []byte("x")})
			return apiError(t, err)
		}, want{"ValidationException", "at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"}},
		{"SDK CreateStream, NUL in the name", func(t *testing.T) (string, string) {
			_, err := h.sdk.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("new\x00"), ShardCount: aws.Int32(1)})
			return apiError(t, err)
		}, want{"ValidationException", "at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern"}},
		{"SDK RegisterStreamConsumer, NUL in the name", func(t *testing.T) (string, string) {
			_, err := h.sdk.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(h.e.streamARN(hostileStream)), ConsumerName: aws.String("c\x00")})
			return apiError(t, err)
		}, want{"ValidationException", "at 'consumerName' failed to satisfy constraint: Member must satisfy regular expression pattern"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ, msg := tc.run(t)
			if typ != tc.want.typ || !strings.Contains(msg, tc.want.says) {
				t.Errorf("got %s %q\nwant %s saying %q", typ, msg, tc.want.typ, tc.want.says)
			}
		})
	}

	if err := sdkPut("after", "ok"); err != nil {
		t.Fatal(err)
	}
	h.ack("after", "ok")
	h.checkLog()
	if _, err := h.sdk.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("new\x00")}); err == nil {
		t.Error("a stream whose name has a NUL exists")
	}
}

// TestForeignARNs: a StreamARN or ConsumerARN naming another account,
// region or partition is refused with AccessDeniedException by every
// operation that takes one, data and control plane, before it can read,
// write or change our stream of the same name; our own ARNs still work.
func TestForeignARNs(t *testing.T) {
	h := newHostileEnv(t)
	ctx := context.Background()
	ours := h.e.streamARN(hostileStream)
	reg, err := h.sdk.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(ours), ConsumerName: aws.String("c")})
	if err != nil {
		t.Fatal(err)
	}
	ourConsumer := *reg.Consumer.ConsumerARN
	it, err := h.sdk.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamARN: aws.String(ours),
		ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	// Our own ARN writes.
	if _, err := h.sdk.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: aws.String(ours), PartitionKey: aws.String("own"), Data: []byte("arn")}); err != nil {
		t.Fatal(err)
	}
	h.ack("own", "arn")

	foreign := map[string]func(string) string{
		"another account":   func(a string) string { return strings.Replace(a, ":000000000000:", ":999999999999:", 1) },
		"another region":    func(a string) string { return strings.Replace(a, ":us-east-1:", ":eu-west-1:", 1) },
		"another partition": func(a string) string { return strings.Replace(a, "arn:aws:", "arn:aws-cn:", 1) },
	}
	for what, alter := range foreign {
		arn, carn := alter(ours), alter(ourConsumer)
		shard0 := "shardId-000000000000"
		ops := []struct {
			op   string
			body map[string]any
		}{
			{"PutRecord", map[string]any{"StreamARN": arn, "PartitionKey": "k", "Data": "eA=="}},
			{"PutRecords", map[string]any{"StreamARN": arn, "Records": []any{map[string]any{"PartitionKey": "k", "Data": "eA=="}}}},
			{"GetShardIterator", map[string]any{"StreamARN": arn, "ShardId": shard0, "ShardIteratorType": "TRIM_HORIZON"}},
			{"GetShardIterator", map[string]any{"StreamARN": arn, "ShardId": "not-a-shard", "ShardIteratorType": "TRIM_HORIZON"}},
			{"GetRecords", map[string]any{"StreamARN": arn, "ShardIterator": *it.ShardIterator}},
			{"DescribeStream", map[string]any{"StreamARN": arn}},
			{"DescribeStreamSummary", map[string]any{"StreamARN": arn}},
			{"ListShards", map[string]any{"StreamARN": arn}},
			{"AddTagsToStream", map[string]any{"StreamARN": arn, "Tags": map[string]string{"k": "v"}}},
			{"RemoveTagsFromStream", map[string]any{"StreamARN": arn, "TagKeys": []string{"k"}}},
			{"ListTagsForStream", map[string]any{"StreamARN": arn}},
			{"IncreaseStreamRetentionPeriod", map[string]any{"StreamARN": arn, "RetentionPeriodHours": 48}},
			{"DecreaseStreamRetentionPeriod", map[string]any{"StreamARN": arn, "RetentionPeriodHours": 24}},
			{"SplitShard", map[string]any{"StreamARN": arn, "ShardToSplit": shard0, "NewStartingHashKey": "1000"}},
			{"MergeShards", map[string]any{"StreamARN": arn, "ShardToMerge": shard0, "AdjacentShardToMerge": "shardId-000000000001"}},
			{"UpdateShardCount", map[string]any{"StreamARN": arn, "TargetShardCount": 2, "ScalingType": "UNIFORM_SCALING"}},
			{"UpdateStreamMode", map[string]any{"StreamARN": arn, "StreamModeDetails": map[string]string{"StreamMode": "ON_DEMAND"}}},
			{"RegisterStreamConsumer", map[string]any{"StreamARN": arn, "ConsumerName": "c2"}},
			{"ListStreamConsumers", map[string]any{"StreamARN": arn}},
			{"DescribeStreamConsumer", map[string]any{"StreamARN": arn, "ConsumerName": "c"}},
			{"DescribeStreamConsumer", map[string]any{"ConsumerARN": carn}},
			{"SubscribeToShard", map[string]any{"ConsumerARN": carn, "ShardId": shard0, "StartingPosition": map[string]string{"Type": "TRIM_HORIZON"}}},
			{"DeregisterStreamConsumer", map[string]any{"ConsumerARN": carn}},
			{"DeregisterStreamConsumer", map[string]any{"StreamARN": arn, "ConsumerName": "c"}},
			{"DeleteStream", map[string]any{"StreamARN": arn}},
			// Both members given: the ARN is still checked.
			{"DeleteStream", map[string]any{"StreamARN": arn, "StreamName": hostileStream}},
		}
		for _, o := range ops {
			for _, ctype := range []string{"json", "cbor"} {
				body := jsonBody(o.body)
				if ctype == "cbor" {
					var tree any
					json.Unmarshal(body, &tree)
					if o.op == "PutRecord" || o.op == "PutRecords" {
						continue // Data is a byte string in CBOR; JSON covers them
					}
					var err error
					if body, err = cborEnc.Marshal(tree); err != nil {
						t.Fatal(err)
					}
				}
				st, typ, msg, _ := h.call(o.op, ctype, body)
				if st != 400 || typ != "AccessDeniedException" || !strings.Contains(msg, "this endpoint serves only account 000000000000 in region us-east-1") {
					t.Errorf("%s, %s %s %s: got %d %s %q, want 400 AccessDeniedException", what, ctype, o.op, body, st, typ, msg)
				}
			}
		}
	}
	// The SDK sends a foreign ARN as it is and shows the refusal.
	_, err = h.sdk.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: aws.String(foreign["another account"](ours)), PartitionKey: aws.String("k"), Data: []byte("x")})
	var ad *types.AccessDeniedException
	if !errors.As(err, &ad) || !strings.Contains(ad.ErrorMessage(), "arn:aws:kinesis:us-east-1:999999999999:stream/s") {
		t.Errorf("SDK PutRecord with another account's ARN: %v, want AccessDeniedException naming the ARN", err)
	}
	// An ARN that is not of the service's pattern is a validation error.
	for _, bad := range []string{"arn:aws:kinesis:us-east-1:0000:stream/s", "arn:aws:sqs:us-east-1:000000000000:stream/s", "arn:aws:kinesis:us-east-1:000000000000:table/s"} {
		st, typ, msg, _ := h.call("DescribeStreamSummary", "json", jsonBody(map[string]any{"StreamARN": bad}))
		if st != 400 || typ != "ValidationException" || !strings.Contains(msg, "at 'streamARN' failed to satisfy constraint: Member must satisfy regular expression pattern") {
			t.Errorf("StreamARN %s: got %d %s %q, want a ValidationException for its pattern", bad, st, typ, msg)
		}
	}

	// Nothing changed: same stream, one shard, 24 hours, no tags, consumer
	// c still there, and only the acknowledged record written.
	sum, err := h.sdk.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: aws.String(ours)})
	if err != nil {
		t.Fatal(err)
	}
	d := sum.StreamDescriptionSummary
	if d.StreamStatus != types.StreamStatusActive || *d.OpenShardCount != 1 || *d.RetentionPeriodHours != 24 ||
		d.StreamModeDetails.StreamMode != types.StreamModeProvisioned || *d.ConsumerCount != 1 {
		t.Errorf("a refused request changed the stream: %+v", d)
	}
	tags, err := h.sdk.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamARN: aws.String(ours)})
	if err != nil || len(tags.Tags) != 0 {
		t.Errorf("tags %+v, %v; want none", tags, err)
	}
	if _, err := h.sdk.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(ourConsumer)}); err != nil {
		t.Errorf("our consumer: %v", err)
	}
	h.checkLog()
}

// TestHostileSizes: a 100 KB stream name, partition key, ARN, iterator,
// sequence number, consumer name, hash key, tag or blob gets an error of
// the right type whose message quotes the start of the value and its
// length, not the whole value: under 1 KB. Values up to 1 KiB are still
// quoted whole, as AWS quotes them.
func TestHostileSizes(t *testing.T) {
	h := newHostileEnv(t)
	ctx := context.Background()
	huge := strings.Repeat("a", 100<<10)
	digits := "1" + strings.Repeat("0", 100<<10)
	ours := h.e.streamARN(hostileStream)
	type sized struct {
		name, op, ctype string
		body            []byte
		sdk             func() error
		typ             string
	}
	cases := []sized{
		{name: "SDK stream name", sdk: func() error {
			_, err := h.sdk.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(huge)})
			return err
		}, typ: "ValidationException"},
		{name: "SDK PutRecord partition key", sdk: func() error {
			_, err := h.sdk.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(hostileStream), PartitionKey: aws.String(huge), Data: []byte("x")})
			return err
		}, typ: "ValidationException"},
		{name: "SDK PutRecords partition key and stream name", sdk: func() error {
			_, err := h.sdk.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(huge), Records: []types.PutRecordsRequestEntry{
				{PartitionKey: aws.String("g"), Data: []byte("x")}, {PartitionKey: aws.String(huge), Data: []byte("x")}}})
			return err
		}, typ: "ValidationException"},
		{name: "SDK PutRecord ExplicitHashKey of 100 K digits", sdk: func() error {
			_, err := h.sdk.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(hostileStream), PartitionKey: aws.String("k"), Data: []byte("x"), ExplicitHashKey: aws.String(digits)})
			return err
		}, typ: "ValidationException"},
		{name: "SDK GetRecords iterator", sdk: func() error {
			_, err := h.sdk.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(huge)})
			return err
		}, typ: "ValidationException"},
		{name: "SDK GetShardIterator sequence number", sdk: func() error {
			_, err := h.sdk.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(hostileStream), ShardId: aws.String("shardId-000000000000"),
				ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String(digits)})
			return err
		}, typ: "ValidationException"},
		{name: "SDK RegisterStreamConsumer name", sdk: func() error {
			_, err := h.sdk.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(ours), ConsumerName: aws.String(huge)})
			return err
		}, typ: "ValidationException"},
		{name: "SDK AddTagsToStream tag value", sdk: func() error {
			_, err := h.sdk.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(hostileStream), Tags: map[string]string{"k": huge}})
			return err
		}, typ: "ValidationException"},
		{name: "JSON StreamARN with a 100 KB name", op: "PutRecord", ctype: "json",
			body: jsonBody(map[string]any{"StreamARN": ours + huge, "PartitionKey": "k", "Data": "eA=="}), typ: "ValidationException"},
		{name: "JSON StreamARN with a 100 KB region", op: "DeleteStream", ctype: "json",
			body: jsonBody(map[string]any{"StreamARN": "arn:aws:kinesis:" + huge + ":000000000000:stream/s"}), typ: "AccessDeniedException"},
		{name: "JSON ConsumerARN", op: "DescribeStreamConsumer", ctype: "json",
			body: jsonBody(map[string]any{"ConsumerARN": ours + "/consumer/" + huge + ":1"}), typ: "ResourceNotFoundException"},
		{name: "JSON ConsumerARN of an unknown consumer", op: "DescribeStreamConsumer", ctype: "json",
			body: jsonBody(map[string]any{"ConsumerARN": ours + "/consumer/c:" + digits}), typ: "ResourceNotFoundException"},
		{name: "JSON Data that is not base64", op: "PutRecord", ctype: "json",
			body: jsonBody(map[string]any{"StreamName": hostileStream, "PartitionKey": "k", "Data": strings.Repeat("!", 100<<10)}), typ: "SerializationException"},
		{name: "JSON boolean given 100 KB of text", op: "DeleteStream", ctype: "json",
			body: jsonBody(map[string]any{"StreamName": hostileStream, "EnforceConsumerDeletion": huge}), typ: "SerializationException"},
		{name: "JSON PutRecords key on the slow path", op: "PutRecords", ctype: "json",
			body: []byte(`{"StreamName":"s","Records":[{"PartitionKey":"\u0061` + huge + `","Data":"eA=="}]}`), typ: "ValidationException"},
		{name: "CBOR PutRecords key", op: "PutRecords", ctype: "cbor",
			body: cborMapOf(cborText("StreamName"), cborText("s"), cborText("Records"), cborArrayOf(cborRecord(huge, "x"))), typ: "ValidationException"},
		{name: "CBOR GetShardIterator sequence number", op: "GetShardIterator", ctype: "cbor",
			body: cborMapOf(cborText("StreamName"), cborText("s"), cborText("ShardId"), cborText("shardId-000000000000"),
				cborText("ShardIteratorType"), cborText("AT_SEQUENCE_NUMBER"), cborText("StartingSequenceNumber"), cborText(digits)), typ: "InvalidArgumentException"},
		{name: "CBOR StreamARN and StreamName that differ", op: "DescribeStreamSummary", ctype: "cbor",
			body: cborMapOf(cborText("StreamARN"), cborText(ours), cborText("StreamName"), cborText(huge)), typ: "ValidationException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var typ, msg string
			if tc.sdk != nil {
				typ, msg = apiError(t, tc.sdk())
			} else {
				_, typ, msg, _ = h.call(tc.op, tc.ctype, tc.body)
			}
			if typ != tc.typ || len(msg) > 1024 || !strings.Contains(msg, "… (") {
				t.Errorf("got %s, %d-byte message %.2000q\nwant %s, under 1 KB, quoting a cut value", typ, len(msg), msg, tc.typ)
			}
		})
	}

	// Up to maxQuoted bytes a value is quoted whole, as AWS does
	// (kinesalite's recordings quote a 513-character iterator); one byte
	// more is cut.
	for _, n := range []int{maxQuoted, maxQuoted + 1} {
		v := strings.Repeat("b", n)
		_, err := h.sdk.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(v)})
		_, msg := apiError(t, err)
		if whole := strings.Contains(msg, "'"+v+"'"); whole != (n <= maxQuoted) {
			t.Errorf("%d-byte iterator quoted whole: %v; message %.200q", n, whole, msg)
		}
	}
	// PutRecords' entries are printed as the service's object names, at
	// most maxPrintedEntries of them: at the source (before the HTTP
	// layer's cap on the whole message), 100,000 empty records make a
	// message of 33 KB, not one of 6 MB.
	body := []byte(`{"StreamName":"s","Records":[{}` + strings.Repeat(",{}", 100000-1) + `]}`)
	_, err := checkWire(wireSpecs["PutRecords"], body)
	var ve *types.ValidationException
	if !errors.As(err, &ve) || len(ve.ErrorMessage()) > 64<<10 || !strings.Contains(ve.ErrorMessage(), "… (100000 entries)]' at 'records'") {
		t.Errorf("100,000 records: %v", capQuoted(err.Error()))
	}
	if _, typ, _, _ := h.call("PutRecords", "json", body); typ != "ValidationException" {
		t.Errorf("100,000 records over HTTP: %s, want ValidationException", typ)
	}
	h.checkLog()
}

// keyProblem's eight-bytes-at-a-time scan agrees with the plain rule (no
// NUL, valid UTF-8) wherever the bad byte sits, including the bytes
// either side of a word boundary.
func TestKeyProblemScan(t *testing.T) {
	for n := 1; n <= 24; n++ {
		for at := 0; at < n; at++ {
			for _, bad := range []string{"\x00", "\xff", "\x80", "é", "\x01", "\x7f", "🔑"} {
				k := []byte(strings.Repeat("k", n))
				k = append(k[:at], append([]byte(bad), k[at+1:]...)...)
				want := bytes.IndexByte(k, 0) >= 0 || !utf8.Valid(k)
				if got := keyProblem(string(k)) != ""; got != want {
					t.Errorf("key %q: refused %v, want %v", k, got, want)
				}
			}
		}
	}
}
