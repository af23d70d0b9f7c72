// Package sdk is what Sluice function authors import. A handler is an
// ordinary aws-lambda-go handler; main() calls sdk.Start(handler) and the same
// package main then builds three ways, unchanged: as a Go plugin for Sluice
// (-buildmode=plugin), as a WASM module for Sluice (GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared, exported through the ABI in docs/wasm-abi.md), or as
// an AWS Lambda bootstrap (a plain build calling lambda.Start).
//
//	func handle(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) { ... }
//	func main() { sdk.Start(handle) }
//
// # Environment and identity in each build
//
// Read configuration with Env(ctx, key), which is right everywhere. What
// os.Getenv sees differs:
//
//   - plugin: the Sluice process's environment, shared by every function in
//     it — not the function's Environment.Variables. Per-function values
//     (and AWS_LAMBDA_FUNCTION_NAME, _VERSION, _MEMORY_SIZE, AWS_REGION)
//     travel on the context; Env reads them there. lambdacontext.FunctionName
//     and friends are process globals, so they do not name the function
//     either; use Env(ctx, "AWS_LAMBDA_FUNCTION_NAME").
//   - WASM: the WASI environment, which is exactly the function's variables
//     plus Lambda's own; nothing of the host. os.Getenv and Env agree, and
//     lambdacontext's globals are right.
//   - Lambda: the real Lambda environment; os.Getenv and Env agree.
//
// In all three the context carries the request ID, the invoked function
// ARN (lambdacontext.FromContext) and the deadline (ctx.Deadline()).
package sdk

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk/host"
)

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

// Logf writes one log line for the current invocation. Under Sluice it is
// captured with the invocation's request ID (plugins share the process's
// stdout, so fmt.Println there is not attributable; in WASM stdout and
// stderr are captured per request too); on AWS Lambda it goes to stderr,
// that is CloudWatch Logs.
func Logf(ctx context.Context, format string, args ...any) {
	w := host.Log(ctx)
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, strings.TrimSuffix(format, "\n")+"\n", args...)
}
