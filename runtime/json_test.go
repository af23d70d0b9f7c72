package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/runtime"
)

// TestJSONInvoker: code that speaks JSON only gets the typed path through
// the one adapter: the batch arrives as Lambda's JSON, the answer comes
// back decoded, with its body kept for the partial-batch rules.
func TestJSONInvoker(t *testing.T) {
	ev := &events.KinesisEvent{Records: []events.KinesisEventRecord{{EventSource: "aws:kinesis", Kinesis: events.KinesisRecord{Data: []byte("x"), SequenceNumber: "1"}}}}
	var got events.KinesisEvent
	inv := runtime.JSONInvoker(func(_ context.Context, payload []byte) ([]byte, error) {
		if err := json.Unmarshal(payload, &got); err != nil {
			return nil, err
		}
		return []byte(`{"batchItemFailures":[{"itemIdentifier":"1"}],"records":[{"data":"eQ=="}]}`), nil
	})
	res, err := inv.InvokeKinesis(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Records) != 1 || string(got.Records[0].Kinesis.Data) != "x" {
		t.Errorf("the function got %+v", got)
	}
	if len(res.Response.BatchItemFailures) != 1 || res.Response.BatchItemFailures[0].ItemIdentifier != "1" ||
		len(res.Response.Records) != 1 || string(res.Response.Records[0].Data) != "y" || res.JSON == nil {
		t.Errorf("result %+v", res)
	}

	// Not a StreamResponse: an empty one, as on Lambda, and the body kept.
	res, err = runtime.JSONInvoker(func(context.Context, []byte) ([]byte, error) { return []byte(`[1]`), nil }).InvokeKinesis(context.Background(), ev)
	if err != nil || len(res.Response.BatchItemFailures) != 0 || string(res.JSON) != "[1]" {
		t.Errorf("non-StreamResponse: %+v, %v", res, err)
	}

	fail := &runtime.InvokeError{Type: "Runtime.Panic", Message: "boom"}
	if _, err := runtime.JSONInvoker(func(context.Context, []byte) ([]byte, error) { return nil, fail }).InvokeKinesis(context.Background(), ev); !errors.Is(err, fail) {
		t.Errorf("error %v, want the function's", err)
	}
}
