// Command country is the sample app's Firehose data-transformation
// function (a Lambda processor on the clickstream-shared delivery stream):
// it reads each record's country and returns it as a partition key, so the
// delivery stream writes one prefix per country
// (!{partitionKeyFromLambda:country}). Records without a country are
// reported ProcessingFailed and land under the error prefix. On AWS only a
// transformation function can set partition keys this way; the same source
// deploys there unchanged.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
)

func handle(_ context.Context, e events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	resp := events.KinesisFirehoseResponse{Records: make([]events.KinesisFirehoseResponseRecord, 0, len(e.Records))}
	for _, r := range e.Records {
		resp.Records = append(resp.Records, transform(r))
	}
	return resp, nil
}

func transform(r events.KinesisFirehoseEventRecord) events.KinesisFirehoseResponseRecord {
	out := events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Data: r.Data}
	var click struct {
		Country string `json:"country"`
	}
	if err := json.Unmarshal(r.Data, &click); err != nil || click.Country == "" {
		out.Result = events.KinesisFirehoseTransformedStateProcessingFailed
		return out
	}
	out.Result = events.KinesisFirehoseTransformedStateOk
	out.Metadata.PartitionKeys = map[string]string{"country": click.Country}
	return out
}

func main() { sdk.Start(handle) }
