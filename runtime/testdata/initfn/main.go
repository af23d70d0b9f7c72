// Command initfn is the runtime's test function for the init phase: its
// main() misbehaves before it calls sdk.Start, as the environment variable
// INIT asks — "spin" loops forever, "sleep=<duration>" sleeps that long —
// and the handler then upper-cases every record, as ../kfn does.
package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
)

var sink int

func handle(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
	var resp sdk.StreamResponse
	for _, r := range e.Records {
		resp.Records = append(resp.Records, sdk.OutputRecord{Data: []byte(strings.ToUpper(string(r.Kinesis.Data)))})
	}
	return resp, nil
}

func main() {
	switch mode := os.Getenv("INIT"); {
	case mode == "spin":
		for {
			sink++
		}
	case strings.HasPrefix(mode, "sleep="):
		d, err := time.ParseDuration(strings.TrimPrefix(mode, "sleep="))
		if err != nil {
			panic(err)
		}
		time.Sleep(d)
	}
	sdk.Start(handle)
}
