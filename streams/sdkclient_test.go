package streams

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestSDKClientSubscribesAfterAnErrorAnswer: the in-memory SDK client
// subscribes to a shard after its first SubscribeToShard was refused (the
// consumer was still CREATING), and the event stream then carries every
// record.
func TestSDKClientSubscribesAfterAnErrorAnswer(t *testing.T) {
	ctx := context.Background()
	e := openTest(t, Options{CreateDelay: 50 * time.Millisecond})
	if _, err := e.EnsureStream(ctx, StreamSpec{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	arn, err := e.EnsureConsumer(ctx, "s", "c")
	if err != nil {
		t.Fatal(err)
	}
	c, closeClient, err := e.SDKClient()
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient()
	in := &kinesis.SubscribeToShardInput{ConsumerARN: &arn, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}}
	var inUse *types.ResourceInUseException
	if _, err := c.SubscribeToShard(ctx, in); !errors.As(err, &inUse) {
		t.Fatalf("subscribing through a CREATING consumer: %v, want ResourceInUseException", err)
	}
	var out *kinesis.SubscribeToShardOutput
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err = c.SubscribeToShard(ctx, in)
		if err == nil {
			break
		}
		if !errors.As(err, &inUse) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // CREATING → ACTIVE has no event a client can wait on
	}
	defer out.GetStream().Close()
	for range 5 {
		if _, err := e.Client().PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), Data: []byte("x"), PartitionKey: aws.String("k")}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for ev := range out.GetStream().Events() {
		if e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent); ok {
			if n += len(e.Value.Records); n == 5 {
				return
			}
		}
	}
	t.Fatalf("the event stream ended after %d of 5 records: %v", n, out.GetStream().Err())
}
