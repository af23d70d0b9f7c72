// Command enrich is the sample pipeline's Enrich function: it reads click
// events from the clickstream stream and hands each one, with a device class
// and the event's hour and date added, to the function's delivery stream.
//
// It is an ordinary aws-lambda-go handler: built with -buildmode=plugin it
// runs inside Sluice, built normally it is an AWS Lambda bootstrap.
package main

import "github.com/sluice-dev/sluice/sdk"

func main() {
	sdk.Start(handle)
}
