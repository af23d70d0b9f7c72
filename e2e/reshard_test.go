package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/harness"
)

// TestReshardUnderLoad doubles the stream's shards, then halves them, while
// the generator is putting: the mappings read every parent to its end
// before its children, every acknowledged click is delivered, and each
// session's clicks are archived in stream order.
func TestReshardUnderLoad(t *testing.T) {
	state := t.TempDir()
	s := startSluice(t, state, "127.0.0.1:0")
	acked := filepath.Join(t.TempDir(), "acked")
	gen := generate(t, s.Endpoints.Kinesis, 9000, acked, "-rate", "2000")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.Client()
	for i, target := range []int32{8, 4} {
		waitLines(t, acked, 2000*(i+1))
		if _, err := c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
			StreamName: aws.String("clickstream"), TargetShardCount: aws.Int32(target), ScalingType: types.ScalingTypeUniformScaling,
		}); err != nil {
			t.Fatalf("UpdateShardCount %d: %v", target, err)
		}
		waiter := kinesis.NewStreamExistsWaiter(c)
		if err := waiter.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("clickstream")}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := gen.Wait(); err != nil {
		t.Fatalf("generator: %v\n%s", err, gen.Stderr)
	}
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("clickstream")})
	if err != nil {
		t.Fatal(err)
	}
	rank, err := harness.StreamOrder(ctx, c, "clickstream")
	if err != nil {
		t.Fatal(err)
	}
	drain(t, s, state)

	ids, _ := harness.ReadLines(acked)
	seen, err := harness.Delivered(filepath.Join(state, "buckets", "clickstream-archive"))
	if err != nil {
		t.Fatal(err)
	}
	lost := harness.Missing(ids, seen)
	t.Logf("%d shards after 4→8→4 under load; acknowledged %d, delivered %d distinct, lost %d", len(shards.Shards), len(ids), len(seen), lost)
	if lost > 0 {
		t.Fatalf("%d acknowledged clicks lost across resharding", lost)
	}
	// Per session (the partition key), clicks sit in each partition of the
	// archive in the order the stream holds them, parents before children.
	checked, bad, err := harness.CheckKeyOrder(filepath.Join(state, "buckets", "clickstream-archive"),
		filepath.Join(state, "objects-meta", "clickstream-archive"), rank, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("per-session order checked on %d archived clicks: %d out of order", checked, len(bad))
	if checked < len(ids) {
		t.Errorf("order checked on %d clicks, fewer than the %d acknowledged", checked, len(ids))
	}
	for i, v := range bad {
		if i == 10 {
			t.Errorf("... and %d more", len(bad)-10)
			break
		}
		t.Errorf("out of order across resharding: %v", v)
	}
}

func sessionID(rec []byte) string {
	var v struct {
		SessionID string `json:"session_id"`
	}
	_ = json.Unmarshal(rec, &v)
	return v.SessionID
}
