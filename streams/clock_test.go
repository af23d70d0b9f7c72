package streams

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/clock"
)

// TestEngineOnFakeClock: with Options.Time, arrival times and the
// periodic jobs' tickers come from that clock.
func TestEngineOnFakeClock(t *testing.T) {
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	fc := clock.NewFake(start)
	e := openTest(t, Options{Time: fc})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Retention and autoscaling tick on the fake clock.
	if err := fc.BlockUntilContext(ctx, 2); err != nil {
		t.Fatalf("periodic jobs did not arm their tickers on the fake clock: %v", err)
	}
	mustCreate(t, e, "clocked", 1)
	fc.Advance(90 * time.Second)
	c := e.Client()
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("clocked"), PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("clocked"),
		ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(out.Records) != 1 {
		t.Fatalf("get records: %v, %v", out, err)
	}
	if at := *out.Records[0].ApproximateArrivalTimestamp; !at.Equal(start.Add(90 * time.Second)) {
		t.Fatalf("arrival %v, want the fake clock's %v", at, start.Add(90*time.Second))
	}
}
