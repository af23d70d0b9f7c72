// Command noop is the benchmarks' function: it accepts a Kinesis batch and
// returns an empty response, so what is measured is the loader's cost.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
)

func handle(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
	return sdk.StreamResponse{}, nil
}

func main() { sdk.Start(handle) }
