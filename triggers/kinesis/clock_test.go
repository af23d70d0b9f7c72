package kinesis_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/internal/clock"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// TestBatchingWindowRunsOnTheMappingsClock: on a fake clock, a batch waits
// for its batching window however long the test takes, and goes once the
// clock is advanced past the window, with no wall-clock wait involved.
func TestBatchingWindowRunsOnTheMappingsClock(t *testing.T) {
	s := newScenario(t, "embedded", 1)
	s.put(t, []string{"a"}, []string{"k"})
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	invoked := make(chan int, 10)
	handler := func(_ context.Context, e events.KinesisEvent) error {
		invoked <- len(e.Records)
		return nil
	}
	cfg := kt.Config{ID: "clock", FunctionName: "Fn", MaximumBatchingWindow: time.Minute}
	_, stop := s.startOpts(t, cfg, handler, nil, kt.Options{Clock: fake})
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Parked on the fake clock: the discovery ticker, and the shard's wait
	// (for the window's end, or a poll before it has read the record).
	if err := fake.BlockUntilContext(ctx, 2); err != nil {
		t.Fatalf("the mapping never waited on its clock: %v", err)
	}
	select {
	case n := <-invoked:
		t.Fatalf("invoked with %d records before the batching window ended", n)
	default:
	}
	fake.Advance(time.Minute)
	select {
	case n := <-invoked:
		if n != 1 {
			t.Errorf("invoked with %d records, want 1", n)
		}
	case <-ctx.Done():
		t.Fatal("not invoked after the clock passed the batching window")
	}
}
