package streams

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestMidpoint(t *testing.T) {
	maxKey, _ := parseU128("340282366920938463463374607431768211455")
	half, _ := parseU128("170141183460469231731687303715884105728")
	tests := []struct{ a, b, want u128 }{
		{u128{}, maxKey, half},
		{u128{}, u128{lo: 1}, u128{lo: 1}},
		{u128{lo: 10}, u128{lo: 20}, u128{lo: 16}},
		{u128{lo: 11}, u128{lo: 12}, u128{lo: 12}},
	}
	for _, tt := range tests {
		if got := midpoint(tt.a, tt.b); got != tt.want {
			t.Errorf("midpoint(%s, %s) = %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestUpdateStreamModeAndOnDemandSplit(t *testing.T) {
	clk := newFakeClock()
	e := openTest(t, Options{Clock: clk.Now})
	c := sdkClient(t, e)
	ctx := context.Background()
	mustCreate(t, e, "mode", 1)
	arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/mode")
	if _, err := c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: arn,
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}}); !errors.As(err, new(*types.InvalidArgumentException)) {
		t.Fatalf("switch to the current mode: %v", err)
	}
	if _, err := c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: arn,
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); err != nil {
		t.Fatal(err)
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: arn})
	if err != nil || sum.StreamDescriptionSummary.StreamModeDetails.StreamMode != types.StreamModeOnDemand || *sum.StreamDescriptionSummary.OpenShardCount != 1 {
		t.Fatalf("after switch: %+v, %v", sum, err)
	}

	// 800 records/s in one second: above half the record limit.
	recs := make([]types.PutRecordsRequestEntry, 400)
	for i := range recs {
		recs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(i)), Data: []byte("x")}
	}
	for range 20 {
		if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: arn, Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	e.autoscale() // what the one-second ticker runs
	l, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("mode"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil || len(l.Shards) != 2 || *l.Shards[0].ParentShardId != "shardId-000000000000" {
		t.Fatalf("after a hot second: %+v, %v", l, err)
	}
	// Cold shards stay as they are.
	clk.Advance(11e9)
	e.autoscale()
	if l, _ = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("mode"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}}); len(l.Shards) != 2 {
		t.Fatalf("cold stream was split: %d open shards", len(l.Shards))
	}

	// Back to provisioned; a third switch within 24 h is refused.
	if _, err := c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: arn,
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{StreamARN: arn,
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}}); !errors.As(err, new(*types.LimitExceededException)) {
		t.Fatalf("third switch: %v", err)
	}
}
