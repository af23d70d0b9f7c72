package kinesis_test

import (
	"context"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/streams"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// TestFanOutMappingReceivesEveryRecord: a mapping whose event source is a
// consumer ARN reads through SubscribeToShard (the real event-stream
// protocol, served by the embedded stream with its limits on), as Lambda
// does for enhanced fan-out. It starts while the consumer is still
// CREATING, so the first subscriptions are refused and retried. Subscriptions last 200 ms here, so the reader resubscribes from
// its continuation many times: every record arrives once, in order per
// shard, across resubscriptions and a reshard (the parent's subscription
// ends with its child shards, the children are read after it).
func TestFanOutMappingReceivesEveryRecord(t *testing.T) {
	ctx := context.Background()
	engine, err := streams.Open(t.TempDir(), streams.Options{SubscribeDuration: 200 * time.Millisecond, Limits: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	if _, err := engine.EnsureStream(ctx, streams.StreamSpec{Name: "clicks", ShardCount: 2}); err != nil {
		t.Fatal(err)
	}
	arn, err := engine.EnsureConsumer(ctx, "clicks", "fanout")
	if err != nil {
		t.Fatal(err)
	}
	sdk, closeSDK, err := engine.SDKClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeSDK)
	store, err := checkpoint.OpenFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fn, err := runtime.New(runtime.Config{Name: "Echo"}, echo)
	if err != nil {
		t.Fatal(err)
	}
	sink := newRecordingSink()
	m, err := kt.New(kt.Config{ID: "efo", FunctionName: "Echo", StreamName: "clicks", ConsumerARN: arn, BatchSize: 50, StartingPosition: "LATEST"},
		sdk, fn, sink, store, kt.Options{PollInterval: 50 * time.Millisecond, DiscoveryInterval: 100 * time.Millisecond, RetryBaseDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-m.Positioned():
	case <-time.After(30 * time.Second):
		t.Fatal("the fan-out mapping never subscribed to every shard")
	}

	put := func(from, n int) {
		for i := from; i < from+n; i++ {
			_, err := engine.Client().PutRecord(ctx, &kinesis.PutRecordInput{
				StreamName: aws.String("clicks"), Data: fmt.Appendf(nil, "%d", i), PartitionKey: aws.String(fmt.Sprintf("key-%d", i%7)),
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	put(0, 300)
	sink.waitRecords(t, 300)
	// Split shard 0: its subscription ends with the child shards named, and
	// the mapping moves on to them.
	shards, err := engine.Client().ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("clicks")})
	if err != nil {
		t.Fatal(err)
	}
	s0 := shards.Shards[0]
	mid := midHashKey(t, aws.ToString(s0.HashKeyRange.StartingHashKey), aws.ToString(s0.HashKeyRange.EndingHashKey))
	sdkCtl, closeCtl, err := engine.SDKClient()
	if err != nil {
		t.Fatal(err)
	}
	defer closeCtl()
	if _, err := sdkCtl.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("clicks"), ShardToSplit: s0.ShardId, NewStartingHashKey: aws.String(mid)}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, sdkCtl)
	put(300, 300)
	sink.waitRecords(t, 600)

	sink.mu.Lock()
	defer sink.mu.Unlock()
	seen := map[string]int{}
	lastByKey := map[int]int{}
	for _, b := range sink.batches {
		for _, r := range b.Records {
			seen[string(r.Data)]++
			var i int
			fmt.Sscan(string(r.Data), &i)
			if prev, ok := lastByKey[i%7]; ok && prev > i {
				t.Errorf("key-%d: record %d after %d", i%7, i, prev)
			}
			lastByKey[i%7] = i
		}
	}
	for i := range 600 {
		if n := seen[fmt.Sprint(i)]; n != 1 {
			t.Errorf("record %d delivered %d times, want once", i, n)
		}
	}
}

func midHashKey(t *testing.T, lo, hi string) string {
	t.Helper()
	var a, b, sum bigInt
	a.set(t, lo)
	b.set(t, hi)
	sum.Add(&a.Int, &b.Int)
	sum.Rsh(&sum.Int, 1)
	return sum.String()
}

func waitActive(t *testing.T, c *kinesis.Client) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("clicks")})
		if err != nil {
			t.Fatal(err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		time.Sleep(10 * time.Millisecond) // UPDATING → ACTIVE has no event to wait on through the API
	}
	t.Fatal("stream never became ACTIVE after the split")
}

type bigInt struct{ big.Int }

func (b *bigInt) set(t *testing.T, s string) {
	t.Helper()
	if _, ok := b.SetString(s, 10); !ok {
		t.Fatalf("hash key %q", s)
	}
}
