// Command latency is the benchmark's latency probe: a Kinesis stream
// handler that stamps every record with the time it was invoked. Its input
// records are {"seq":n,"put_ns":t} written by bench/cmd/kfeed -rate; its
// output records, handed to the delivery stream, are the same documents
// with "recv_ns" added, so that put→invoke latency can be read from the
// bucket afterwards. Both clocks are the same machine's wall clock.
package main

import (
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
)

func handle(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
	recv := strconv.FormatInt(time.Now().UnixNano(), 10)
	out := make([]sdk.OutputRecord, 0, len(e.Records))
	for _, r := range e.Records {
		d := bytes.TrimRight(r.Kinesis.Data, " \n}")
		b := make([]byte, 0, len(d)+len(recv)+16)
		b = append(b, d...)
		b = append(b, `,"recv_ns":`...)
		b = append(b, recv...)
		b = append(b, '}')
		out = append(out, sdk.OutputRecord{Data: b})
	}
	return sdk.StreamResponse{Records: out}, nil
}

func main() {
	sdk.Start(handle)
}
