package streams

import (
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestServiceRequestChecks: what AWS answers to bad requests, as
// kinesalite's suite recorded it against the service (facts restated here
// in our own cases): type errors are SerializationException with the
// service's message in "Message"; constraint violations, all of them in
// one ValidationException, come before any lookup; unknown streams and
// shards are named as the service names them.
func TestServiceRequestChecks(t *testing.T) {
	e := openTest(t, Options{})
	mustCreate(t, e, "s", 3)
	h := e.Handler()
	long := strings.Repeat("a", 129)
	tests := []struct {
		name, op, body string
		status         int
		want           string // the whole response body
	}{
		// Type errors.
		{"string member given a bool", "DeleteStream", `{"StreamName":true}`, 400,
			`{"__type":"SerializationException","Message":"class java.lang.Boolean can not be converted to an String"}`},
		{"integer member given a string", "CreateStream", `{"StreamName":"x","ShardCount":"1"}`, 400,
			`{"__type":"SerializationException","Message":"class java.lang.String can not be converted to an Integer"}`},
		{"map given a list", "AddTagsToStream", `{"StreamName":"s","Tags":[]}`, 400,
			`{"__type":"SerializationException","Message":"Start of list found where not expected"}`},
		{"blob with a bad length", "PutRecord", `{"StreamName":"s","PartitionKey":"k","Data":"23456"}`, 400,
			`{"__type":"SerializationException","Message":"'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5"}`},
		{"list of structures given a number", "PutRecords", `{"StreamName":"s","Records":23}`, 400,
			`{"__type":"SerializationException","Message":"Expected list or null"}`},
		// Constraints, all of them, before the stream is looked up.
		{"empty name and zero shards", "CreateStream", `{"StreamName":"","ShardCount":0}`, 400,
			`{"__type":"ValidationException","message":"3 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"}`},
		{"too many shards is read as the int32 maximum", "CreateStream", `{"StreamName":"` + long + `","ShardCount":100000000000}`, 400,
			`{"__type":"ValidationException","message":"2 validation errors detected: Value '2147483647' at 'shardCount' failed to satisfy constraint: Member must have value less than or equal to 100000; Value '` + long + `' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128"}`},
		{"no stream name nor ARN", "DescribeStreamSummary", `{}`, 400,
			`{"__type":"ValidationException","message":"1 validation error detected: Value null at 'streamName' failed to satisfy constraint: Member must not be null"}`},
		{"empty name of an unknown stream", "DeleteStream", `{"StreamName":""}`, 400,
			`{"__type":"ValidationException","message":"2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"}`},
		{"records printed as the service's objects", "PutRecords", `{"StreamName":"s","Records":[{"PartitionKey":""}]}`, 400,
			`{"__type":"ValidationException","message":"2 validation errors detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1; Value null at 'records.1.member.data' failed to satisfy constraint: Member must not be null"}`},
		// Requests the service refuses that look harmless.
		{"tab in a tag key", "AddTagsToStream", `{"StreamName":"s","Tags":{"a\tb":"1"}}`, 400,
			`{"__type":"InvalidArgumentException","message":"Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."}`},
		{"percent in a tag value", "AddTagsToStream", `{"StreamName":"s","Tags":{"a":"1%"}}`, 400,
			`{"__type":"InvalidArgumentException","message":"Failed to add tags to stream s under account 000000000000 because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'."}`},
		{"merge with the adjacent shard first", "MergeShards", `{"StreamName":"s","ShardToMerge":"shardId-1","AdjacentShardToMerge":"x-0"}`, 400,
			`{"__type":"InvalidArgumentException","message":"Shards shardId-000000000001 and shardId-000000000000 in stream s under account 000000000000 are not an adjacent pair of shards eligible for merging"}`},
		// Unknown things, named the service's way.
		{"shard ID the service cannot read", "GetShardIterator", `{"StreamName":"nope","ShardId":"2.14E4","ShardIteratorType":"LATEST"}`, 400,
			`{"__type":"ResourceNotFoundException","message":"Could not find shard 2.14E4 in stream nope under account 000000000000."}`},
		{"unknown stream names the shard", "GetShardIterator", `{"StreamName":"nope","ShardId":"any-00002147483647","ShardIteratorType":"LATEST"}`, 400,
			`{"__type":"ResourceNotFoundException","message":"Shard shardId-002147483647 in stream nope under account 000000000000 does not exist"}`},
		{"sequence number of another shard", "GetShardIterator", `{"StreamName":"s","ShardId":"shardId-0","ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"5"}`, 400,
			`{"__type":"InvalidArgumentException","message":"Invalid StartingSequenceNumber. It encodes shardId-000000000005, while it was used in a call to a shard with shardId-000000000000"}`},
		{"oldest-layout sequence number", "GetShardIterator", `{"StreamName":"s","ShardId":"shardId-0","ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"0"}`, 500,
			`{"__type":"InternalFailure"}`},
		{"split at StartingHashKey+1", "SplitShard", `{"StreamName":"s","ShardToSplit":"shard-0","NewStartingHashKey":"1"}`, 400,
			`{"__type":"InvalidArgumentException","message":"NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in stream s under account 000000000000 is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's EndingHashKey 113427455640312821154458202477256070484."}`},
		{"ordering number of no layout", "PutRecord", `{"StreamName":"s","PartitionKey":"a","Data":"","SequenceNumberForOrdering":"` + hexDecimal("30000000000000000000000000000000000000000000001") + `"}`, 400,
			`{"__type":"InvalidArgumentException","message":"ExclusiveMinimumSequenceNumber ` + hexDecimal("30000000000000000000000000000000000000000000001") + ` used in PutRecord on stream s under account 000000000000 is invalid."}`},
		// Outputs without members are empty bodies.
		{"add tags", "AddTagsToStream", `{"StreamName":"s","Tags":{"k":"v"}}`, 200, ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			req.Header.Set("X-Amz-Target", "Kinesis_20131202."+tc.op)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || rec.Body.String() != tc.want {
				t.Errorf("%s %s:\n got %d %s\nwant %d %s", tc.op, tc.body, rec.Code, rec.Body, tc.status, tc.want)
			}
		})
	}
}

// Numbers are read as the service reads them: a fraction is dropped, so
// Limit 34.56 is Limit 34.
func TestServiceReadsIntegersTruncated(t *testing.T) {
	e := openTest(t, Options{})
	mustCreate(t, e, "s", 1)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"StreamName":"s","Limit":34.56}`))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.DescribeStream")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

func hexDecimal(h string) string {
	v, _ := new(big.Int).SetString(h, 16)
	return v.String()
}

// SequenceNumberForOrdering takes any number the service could have issued
// (ours, old and new; its version 1 and 2 layouts) unless its time is in
// the future.
func TestOrderingSeqOK(t *testing.T) {
	now := int64(1_700_000_000)
	k := newSeqKey(1, 0, 1_600_000_000_000)
	cases := map[string]bool{
		formatSeq(k, 7, now):     true,
		formatSeq(k, 7, now+10):  false,
		formatLegacySeq(1, 0, 7): true,
		hexDecimal("20000000000000000000000000000000000000000000001"): true,  // version 1
		hexDecimal("20000000000000000000000000000000000000800000002"): true,  // a negative shard index
		hexDecimal("2ffffffffff7fffffffffffffff000000000007fffffff2"): false, // creation time past 2477
		hexDecimal("30000000000000000000000000000000000000000000001"): false,
	}
	for seq, want := range cases {
		if got := orderingSeqOK(seq, now); got != want {
			t.Errorf("orderingSeqOK(%s) = %v, want %v", seq, got, want)
		}
	}
}

// The service quotes a failing value whole, and so does checkWire up to
// maxQuoted bytes: kinesalite's recordings of a 257-character partition
// key and of 501 PutRecords entries come out exactly (the HTTP writer's
// cap on a whole message is a separate backstop, frontdoor.MaxMessage).
func TestWireQuotesRecordedValuesWhole(t *testing.T) {
	key := strings.Repeat("a", 257)
	_, err := checkWire(wireSpecs["PutRecord"], []byte(`{"StreamName":"s","PartitionKey":"`+key+`","Data":""}`))
	want := "1 validation error detected: Value '" + key + "' at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("257-character key: %v\nwant %s", err, want)
	}
	recs := strings.Repeat(`{"PartitionKey":"k","Data":""},`, 501)
	_, err = checkWire(wireSpecs["PutRecords"], []byte(`{"StreamName":"s","Records":[`+strings.TrimSuffix(recs, ",")+`]}`))
	entries := strings.TrimSuffix(strings.Repeat("com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310, ", 501), ", ")
	want = "1 validation error detected: Value '[" + entries + "]' at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("501 records: %.300v…\nwant %.300s…", err, want)
	}
}
