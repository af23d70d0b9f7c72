package app

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func passthroughBatch(n int) *events.KinesisEvent {
	ev := &events.KinesisEvent{Records: make([]events.KinesisEventRecord, n)}
	for i := range ev.Records {
		ev.Records[i] = events.KinesisEventRecord{EventSource: "aws:kinesis", EventID: fmt.Sprintf("shardId-000000000000:%d", i),
			Kinesis: events.KinesisRecord{Data: fmt.Appendf(nil, `{"page":"/products/%d","n":%d}`, i, i), PartitionKey: "k", SequenceNumber: fmt.Sprint(i)}}
	}
	return ev
}

// The passthrough hands every record's data over unchanged, in order, on
// both paths.
func TestPassthrough(t *testing.T) {
	ev := passthroughBatch(3)
	res, err := passthrough{}.InvokeKinesis(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if res.JSON != nil || len(res.Response.BatchItemFailures) != 0 || len(res.Response.Records) != 3 {
		t.Fatalf("result %+v", res)
	}
	for i, r := range res.Response.Records {
		if string(r.Data) != string(ev.Records[i].Kinesis.Data) {
			t.Errorf("record %d: %q, want %q", i, r.Data, ev.Records[i].Kinesis.Data)
		}
	}
	body, err := passthrough{}.Invoke(context.Background(), []byte(`{"Records":[{"kinesis":{"data":"eA=="}}]}`))
	if want := `{"batchItemFailures":[],"records":[{"data":"eA=="}]}`; err != nil || string(body) != want {
		t.Errorf("Invoke: %s, %v; want %s", body, err, want)
	}
}

// BenchmarkPassthrough is what a KinesisStreamAsSource mapping pays per
// 500-record batch to run the passthrough.
func BenchmarkPassthrough(b *testing.B) {
	ev := passthroughBatch(500)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (passthrough{}).InvokeKinesis(context.Background(), ev); err != nil {
			b.Fatal(err)
		}
	}
}
