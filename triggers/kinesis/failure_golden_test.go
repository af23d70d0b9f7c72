package kinesis_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestFailureRecordGolden pins the invocation record (docs/semantics.md, "ESM
// on-failure destination"): field names, AWS's field order, millisecond
// timestamps, functionError null after a partial response, and the S3 key
// layout.
func TestFailureRecordGolden(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	rec := kt.FailureRecord{
		RequestContext: kt.FailureRequestContext{RequestID: "c9b8fa9f-5a7f-4b3b-9a5c-2f3e4d5c6b7a",
			FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:Enrich", Condition: kt.ConditionRetryAttemptsExhausted, ApproximateInvokeCount: 3},
		ResponseContext: &kt.FailureResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST"},
		Version:         "1.0",
		Timestamp:       at.Format("2006-01-02T15:04:05.000Z"),
		KinesisBatchInfo: kt.KinesisBatchInfo{ShardID: "shardId-000000000001", StartSequenceNumber: "49650000000000000000000000000000000000000000000000000001",
			EndSequenceNumber: "49650000000000000000000000000000000000000000000000000001", ApproximateArrivalOfFirstRecord: "2026-01-02T03:04:00.000Z",
			ApproximateArrivalOfLastRecord: "2026-01-02T03:04:00.000Z", BatchSize: 1, StreamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/clickstream"},
		Payload: &events.KinesisEvent{Records: []events.KinesisEventRecord{{EventID: "shardId-000000000001:49650000000000000000000000000000000000000000000000000001",
			EventName: "aws:kinesis:record", EventSource: "aws:kinesis", EventVersion: "1.0", AwsRegion: "us-east-1",
			Kinesis: events.KinesisRecord{Data: []byte("{malformed"), PartitionKey: "s1", SequenceNumber: "49650000000000000000000000000000000000000000000000000001",
				KinesisSchemaVersion: "1.0", ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: time.Unix(1767323040, 0)}}}}},
	}
	body, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	body = append(body, '\n')
	body = append(body, []byte(kt.FailureKey("9775c942-54be-50e6-87e2-5b2351dce324", "shardId-000000000001", at, "1b4e28ba-2fa1-11d2-883f-0016d3cca427")+"\n")...)
	golden := filepath.Join("testdata", "failure_record.golden")
	if *update {
		os.WriteFile(golden, body, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("failure record differs from %s (go test -run Golden -update):\n%s", golden, body)
	}
}
