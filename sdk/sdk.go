// Package sdk is what Sluice function authors import. A handler is an
// ordinary aws-lambda-go handler; main() calls sdk.Start(handler) and the same
// package main then builds as a Go plugin for Sluice or as an AWS Lambda
// bootstrap, unchanged.
//
//	func handle(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) { ... }
//	func main() { sdk.Start(handle) }
package sdk

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sluice-dev/sluice/sdk/host"
)

// Start runs handler. Inside Sluice (loaded as a plugin) it hands the handler
// to the host and returns; anywhere else it calls lambda.Start, which serves
// the AWS Lambda Runtime API and never returns. handler may have any
// signature lambda.Start accepts.
func Start(handler any) {
	if register := host.Registrar(); register != nil {
		register(handler)
		return
	}
	lambda.Start(handler)
}

// StreamResponse is the response of a Kinesis stream handler: Lambda's
// partial-batch response plus the records to hand to the delivery stream
// the template wires the function to.
type StreamResponse struct {
	// BatchItemFailures lists the records that failed (Lambda's
	// ReportBatchItemFailures contract); empty means the whole batch succeeded.
	BatchItemFailures []events.KinesisBatchItemFailure `json:"batchItemFailures"`
	// Records are the output records for the function's delivery stream.
	Records []OutputRecord `json:"records,omitempty"`
}

// OutputRecord is one record for the delivery stream.
type OutputRecord struct {
	// Data is the record payload, usually one JSON document.
	Data []byte `json:"data"`
	// PartitionKeys are available to the delivery stream's prefix as
	// !{partitionKeyFromLambda:key}. On AWS only Firehose transformation
	// functions can set partition keys; from a stream handler this is a
	// Sluice extension.
	PartitionKeys map[string]string `json:"partitionKeys,omitempty"`
}

// Env returns the function's environment variable key as the template
// declares it. Under Sluice plugins share one process, so the per-function
// environment arrives on ctx; on AWS Lambda (or when ctx carries none) it
// falls back to os.Getenv.
func Env(ctx context.Context, key string) string {
	if env := host.Env(ctx); env != nil {
		return env[key]
	}
	return os.Getenv(key)
}
