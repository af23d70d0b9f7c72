// Command kfn is the runtime's test function: one Kinesis handler source
// that the tests build as a Go plugin, as a WASM module and call through
// lambda.NewHandler, with a fault mode per record payload, and init faults
// (KFN_INIT, see main).
package main

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/sluice-dev/sluice/sdk"
)

var sink int

// kept is what a "keep" record left behind for a later "recall": a handler
// may hold on to its event's memory after returning.
var (
	kept    []byte
	keptKey string
)

func handle(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
	var resp sdk.StreamResponse
	for _, r := range e.Records {
		data := string(r.Kinesis.Data)
		switch data {
		case "panic":
			panic("asked to panic")
		case "fail":
			return sdk.StreamResponse{}, errors.New("asked to fail")
		case "sleep": // a call that outlives its timeout
			time.Sleep(time.Minute)
		case "trap": // a real trap: on wasm, runtime.Breakpoint is the unreachable instruction
			runtime.Breakpoint()
		case "nil": // a nil dereference: a Go panic, recovered like any other
			var p *events.KinesisEventRecord
			data = p.EventID
		case "crash":
			// A panic on another goroutine: Go cannot recover it and the
			// runtime dies. WASM only: in a plugin it takes the host down.
			done := make(chan struct{})
			go func() {
				defer close(done)
				panic("crashed on another goroutine")
			}()
			<-done
		case "spin": // an infinite loop that never yields
			for {
				sink++
			}
		case "bomb": // allocate until the memory cap
			var keep [][]byte
			for {
				keep = append(keep, make([]byte, 1<<20))
				sink += len(keep)
			}
		case "bad":
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
			continue
		case "file":
			_, err := os.ReadFile("/etc/hostname")
			data = "file: " + errString(err)
		case "env":
			data = "HOME=" + os.Getenv("HOME") + " PATH=" + os.Getenv("PATH")
		case "dial":
			c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second)
			if c != nil {
				c.Close()
			}
			data = "dial: " + errString(err)
		case "ctx":
			lc, _ := lambdacontext.FromContext(ctx)
			_, hasDeadline := ctx.Deadline()
			data = strings.Join([]string{
				"rid=" + boolString(lc != nil && lc.AwsRequestID != ""),
				"arn=" + lc.InvokedFunctionArn,
				"deadline=" + boolString(hasDeadline),
				"err=" + errString(ctx.Err()),
				"done=" + boolString(ctx.Done() != nil),
				"name=" + sdk.Env(ctx, "AWS_LAMBDA_FUNCTION_NAME"),
				"memory=" + sdk.Env(ctx, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
				"greeting=" + sdk.Env(ctx, "GREETING"),
			}, " ")
		case "log":
			sdk.Logf(ctx, "hello from %s", r.Kinesis.PartitionKey)
		case "keep":
			kept, keptKey = r.Kinesis.Data, r.Kinesis.PartitionKey
		case "recall":
			data = "recall: " + string(kept) + " " + keptKey
		}
		resp.Records = append(resp.Records, sdk.OutputRecord{
			Data:          []byte(strings.ToUpper(data)),
			PartitionKeys: map[string]string{"pk": r.Kinesis.PartitionKey},
		})
	}
	return resp, nil
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return "denied"
}

func boolString(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// main misbehaves before sdk.Start when KFN_INIT asks, for the init-phase
// tests: "spin" loops forever, "sleep=<duration>" sleeps that long.
func main() {
	switch mode := os.Getenv("KFN_INIT"); {
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
