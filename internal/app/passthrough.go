package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
)

// passthrough is the "function" of a KinesisStreamAsSource delivery
// stream: every record's data becomes an output record, unchanged.
type passthrough struct{}

func (passthrough) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("decode kinesis event: %w", err)
	}
	out := sdk.StreamResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}}
	for _, r := range ev.Records {
		out.Records = append(out.Records, sdk.OutputRecord{Data: r.Kinesis.Data})
	}
	return json.Marshal(out)
}
