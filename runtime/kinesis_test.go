package runtime_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
)

// Every usual Kinesis handler signature takes the typed path: the handler
// sees the caller's records themselves (no JSON copy of the batch), and
// InvokeKinesis returns what the JSON path would decode to. Through JSON a
// no-op handler cost an encode and a reflective decode of every batch.
func TestInvokeKinesisTypedSignatures(t *testing.T) {
	ev := events.KinesisEvent{Records: []events.KinesisEventRecord{{EventID: "shardId-000000000000:1", Kinesis: events.KinesisRecord{Data: []byte("x"), SequenceNumber: "1"}}}}
	failure := events.KinesisBatchItemFailure{ItemIdentifier: "1"}
	out := sdk.OutputRecord{Data: []byte("y")}
	var seen *byte // the Data the handler got, to tell the typed path from a JSON copy
	look := func(e events.KinesisEvent) { seen = &e.Records[0].Kinesis.Data[0] }
	boom := errors.New("boom")
	cases := []struct {
		name     string
		handler  any
		want     *sdk.StreamResponse
		wantType string // errorType of the InvokeError; "" for none
	}{
		{"ctx, event → error", func(_ context.Context, e events.KinesisEvent) error { look(e); return nil }, &sdk.StreamResponse{}, ""},
		{"ctx, event → error (failing)", func(_ context.Context, e events.KinesisEvent) error { look(e); return boom }, nil, "errorString"},
		{"event → error", func(e events.KinesisEvent) error { look(e); return nil }, &sdk.StreamResponse{}, ""},
		{"ctx, event", func(_ context.Context, e events.KinesisEvent) { look(e) }, &sdk.StreamResponse{}, ""},
		{"event", func(e events.KinesisEvent) { look(e) }, &sdk.StreamResponse{}, ""},
		{"→ StreamResponse", func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
			look(e)
			return sdk.StreamResponse{Records: []sdk.OutputRecord{out}}, nil
		}, &sdk.StreamResponse{Records: []sdk.OutputRecord{out}}, ""},
		{"→ *StreamResponse", func(_ context.Context, e events.KinesisEvent) (*sdk.StreamResponse, error) {
			look(e)
			return &sdk.StreamResponse{BatchItemFailures: []events.KinesisBatchItemFailure{failure}}, nil
		}, &sdk.StreamResponse{BatchItemFailures: []events.KinesisBatchItemFailure{failure}}, ""},
		{"→ nil *StreamResponse", func(_ context.Context, e events.KinesisEvent) (*sdk.StreamResponse, error) { look(e); return nil, nil }, &sdk.StreamResponse{}, ""},
		{"→ KinesisEventResponse", func(_ context.Context, e events.KinesisEvent) (events.KinesisEventResponse, error) {
			look(e)
			return events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{failure}}, nil
		}, &sdk.StreamResponse{BatchItemFailures: []events.KinesisBatchItemFailure{failure}}, ""},
		{"→ *KinesisEventResponse", func(_ context.Context, e events.KinesisEvent) (*events.KinesisEventResponse, error) {
			look(e)
			return &events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{failure}}, nil
		}, &sdk.StreamResponse{BatchItemFailures: []events.KinesisBatchItemFailure{failure}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen = nil
			fn, err := runtime.New(runtime.Config{Name: "Typed"}, c.handler)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := fn.InvokeKinesis(context.Background(), &ev)
			var ie *runtime.InvokeError
			switch {
			case c.wantType != "":
				if !errors.As(err, &ie) || ie.Type != c.wantType {
					t.Fatalf("error %v, want an InvokeError of type %s", err, c.wantType)
				}
			case err != nil:
				t.Fatal(err)
			case !reflect.DeepEqual(&resp.Response, c.want) || resp.JSON != nil:
				t.Errorf("response %+v (JSON %q), want %+v and no JSON", resp.Response, resp.JSON, c.want)
			}
			if seen != &ev.Records[0].Kinesis.Data[0] {
				t.Error("the handler got a copy of the batch: it went through JSON")
			}
		})
	}
}

// A handler of another signature answers through JSON: InvokeKinesis hands
// over its body, which can say what a typed response cannot (here a
// numeric itemIdentifier, which Lambda reads as a failure of the whole
// batch), beside the StreamResponse it decodes to.
func TestInvokeKinesisOtherSignatureKeepsTheJSON(t *testing.T) {
	ev := events.KinesisEvent{Records: []events.KinesisEventRecord{{Kinesis: events.KinesisRecord{Data: []byte("x"), SequenceNumber: "1"}}}}
	for _, c := range []struct {
		name     string
		answer   any
		wantJSON string
	}{
		{"numeric identifier", map[string]any{"batchItemFailures": []any{map[string]any{"itemIdentifier": 1}}}, `{"batchItemFailures":[{"itemIdentifier":1}]}`},
		{"null", nil, "null"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fn, err := runtime.New(runtime.Config{Name: "Other"}, func(_ context.Context, in map[string]any) (any, error) { return c.answer, nil })
			if err != nil {
				t.Fatal(err)
			}
			resp, err := fn.InvokeKinesis(context.Background(), &ev)
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.JSON) != c.wantJSON {
				t.Errorf("JSON %q, want %q", resp.JSON, c.wantJSON)
			}
			if !reflect.DeepEqual(resp.Response, sdk.StreamResponse{}) {
				t.Errorf("decoded %+v, want the empty response (not a StreamResponse)", resp.Response)
			}
		})
	}
}
