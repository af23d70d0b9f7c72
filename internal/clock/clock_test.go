package clock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

var epoch = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func TestSleepReturnsWhenTheFakeClockReachesTheDeadline(t *testing.T) {
	c := clock.NewFake(epoch)
	done := make(chan error, 1)
	go func() { done <- clock.Sleep(context.Background(), c, time.Minute) }()
	if err := c.BlockUntilContext(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	c.Advance(59 * time.Second)
	select {
	case err := <-done:
		t.Fatalf("Sleep returned %v after 59 s of a 1 min sleep", err)
	default:
	}
	c.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatalf("Sleep = %v, want nil", err)
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := clock.Sleep(ctx, clock.NewFake(epoch), time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
}

func TestWithTimeoutExpiresOnFakeTime(t *testing.T) {
	c := clock.NewFake(epoch)
	ctx, cancel := clock.WithTimeout(context.Background(), c, 10*time.Second)
	defer cancel()
	if ctx.Err() != nil {
		t.Fatal("expired before the clock moved")
	}
	c.Advance(10 * time.Second)
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("ctx.Err() = %v, want DeadlineExceeded", ctx.Err())
	}
}

func TestOrDefaultsToTheWallClock(t *testing.T) {
	if clock.Or(nil) != clock.Real() {
		t.Fatal("Or(nil) is not the real clock")
	}
	f := clock.NewFake(epoch)
	if clock.Or(f) != f {
		t.Fatal("Or(fake) did not keep the fake")
	}
	if got := f.Now(); !got.Equal(epoch) {
		t.Fatalf("fake Now = %v, want %v", got, epoch)
	}
}

func TestWithNowMovesTheTimeOfDayNotTheTimers(t *testing.T) {
	base := clock.NewFake(epoch)
	day := epoch.Add(24 * time.Hour)
	c := clock.WithNow(base, func() time.Time { return day })
	if got := c.Now(); !got.Equal(day) {
		t.Fatalf("Now = %v, want %v", got, day)
	}
	if got := c.Since(epoch); got != 24*time.Hour {
		t.Fatalf("Since = %v, want 24h", got)
	}
	timer := c.NewTimer(time.Second)
	base.Advance(time.Second)
	<-timer.Chan() // fires on the base clock
}
