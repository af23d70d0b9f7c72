package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
)

// passthrough is the "function" of a KinesisStreamAsSource delivery
// stream: every record's data becomes an output record, unchanged. The
// mapping calls it on the typed path (InvokeKinesis): the batch's data
// reaches the delivery stream without being encoded to JSON and decoded
// back, twice, per batch.
type passthrough struct{}

// InvokeKinesis hands every record's data over as it is.
func (passthrough) InvokeKinesis(_ context.Context, e *events.KinesisEvent) (*runtime.KinesisResult, error) {
	out := sdk.StreamResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}, Records: make([]sdk.OutputRecord, len(e.Records))}
	for i, r := range e.Records {
		out.Records[i] = sdk.OutputRecord{Data: r.Kinesis.Data}
	}
	return &runtime.KinesisResult{Response: out}, nil
}

// Invoke is the same through Lambda's JSON, for a caller that holds a raw
// payload.
func (p passthrough) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("decode kinesis event: %w", err)
	}
	res, err := p.InvokeKinesis(ctx, &ev)
	if err != nil {
		return nil, err
	}
	return json.Marshal(res.Response)
}
