//go:build !wasip1

package sdk

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sluice-dev/sluice/sdk/host"
)

// Start runs handler. Inside Sluice (loaded as a plugin) it hands the handler
// to the host and returns; anywhere else it calls lambda.Start, which serves
// the AWS Lambda Runtime API and never returns. handler may have any
// signature lambda.Start accepts.
//
// On AWS Lambda, when the environment variable DeliveryStreamEnv names a
// Firehose delivery stream, the output records of a StreamResponse are sent
// there with PutRecordBatch and stripped from the Lambda response (see
// WithFirehose), so the same handler feeds the same sink in both places.
func Start(handler any) {
	if register := host.Registrar(); register != nil {
		register(handler)
		return
	}
	lambda.Start(lambdaHandler(handler))
}
