package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
)

// BenchmarkInvokeKinesis is what a mapping pays per 100-record batch
// through Function.InvokeKinesis: a handler of the usual Kinesis signature
// (the typed path, no JSON), and one of another signature (the JSON
// adapter: the batch encoded, decoded by reflection, the answer decoded).
func BenchmarkInvokeKinesis(b *testing.B) {
	ev := &events.KinesisEvent{Records: make([]events.KinesisEventRecord, 100)}
	for i := range ev.Records {
		ev.Records[i] = events.KinesisEventRecord{EventSource: "aws:kinesis", EventID: fmt.Sprintf("shardId-000000000000:%d", i),
			Kinesis: events.KinesisRecord{Data: fmt.Appendf(nil, `{"page":"/products/%d","event_type":"page_view","user_id":"u-%06d"}`, i, i), PartitionKey: "k", SequenceNumber: fmt.Sprint(i)}}
	}
	handlers := map[string]any{
		"typed": func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
			return sdk.StreamResponse{}, nil
		},
		"json": func(_ context.Context, e json.RawMessage) (sdk.StreamResponse, error) {
			return sdk.StreamResponse{}, nil
		},
	}
	for _, name := range []string{"typed", "json"} {
		fn, err := runtime.New(runtime.Config{Name: "Noop", Timeout: time.Minute}, handlers[name])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fn.InvokeKinesis(context.Background(), ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
