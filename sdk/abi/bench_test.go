package abi_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk/abi"
)

// clicks is a batch of n ~400-byte click events as one shard delivers it.
func clicks(n int) *events.KinesisEvent {
	e := &events.KinesisEvent{Records: make([]events.KinesisEventRecord, n)}
	for i := range e.Records {
		seq := fmt.Sprintf("49650000000000000000000000000000000000000000000%09d", i)
		e.Records[i] = events.KinesisEventRecord{
			EventSource: "aws:kinesis", EventVersion: "1.0", EventName: "aws:kinesis:record",
			EventID: "shardId-000000000001:" + seq, InvokeIdentityArn: "arn:aws:iam::000000000000:role/r",
			AwsRegion: "eu-west-1", EventSourceArn: "arn:aws:kinesis:eu-west-1:000000000000:stream/clickstream",
			Kinesis: events.KinesisRecord{KinesisSchemaVersion: "1.0", PartitionKey: fmt.Sprintf("u-%06d", i), SequenceNumber: seq,
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: time.Unix(1767323045, 678000000)},
				Data:                        bytes.Repeat([]byte("x"), 400)},
		}
	}
	return e
}

// BenchmarkKinesisBatch is both halves of the batch ABI for 1, 100 and
// 1,000 records: the host's encoding and the guest's in-place decoding.
// Run it natively and as a guest (GOOS=wasip1 GOARCH=wasm go test -exec
// with a wazero runner) to see what the guest side costs in WASM.
func BenchmarkKinesisBatch(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		e := clicks(n)
		enc := abi.AppendKinesis(nil, e)
		b.Run(fmt.Sprintf("records=%d/encode", n), func(b *testing.B) {
			buf := make([]byte, 0, len(enc))
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				buf = abi.AppendKinesis(buf[:0], e)
			}
		})
		b.Run(fmt.Sprintf("records=%d/decode", n), func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := abi.DecodeKinesis(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("records=%d/copy", n), func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			for b.Loop() {
				_ = bytes.Clone(enc)
			}
		})
	}
}
