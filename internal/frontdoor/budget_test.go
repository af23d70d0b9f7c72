package frontdoor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

func TestBudgetWaitsForRoomThenRefuses(t *testing.T) {
	b, fake := newFakeBudget(100, 50*time.Millisecond)
	var d time.Time
	if err := b.acquire(context.Background(), 100, &d); err != nil {
		t.Fatal(err)
	}
	// Full: a body waits its wait, then is refused with ErrBusy.
	refused := make(chan error)
	go func() {
		var d2 time.Time
		refused <- b.acquire(context.Background(), 1, &d2)
	}()
	waitWaiters(t, fake, 1)
	fake.Advance(50 * time.Millisecond)
	if err := <-refused; !errors.Is(err, ErrBusy) {
		t.Fatalf("over budget: err = %v, want ErrBusy", err)
	}
	if got := b.InUse(); got != 100 {
		t.Fatalf("in use after a refusal = %d, want 100", got)
	}
	// A body waiting when room comes back gets it.
	b = NewBudget(100, time.Minute)
	b.acquire(context.Background(), 100, &d)
	done := make(chan error)
	go func() {
		var d time.Time
		done <- b.acquire(context.Background(), 50, &d)
	}()
	b.Release(50)
	if err := <-done; err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if got := b.InUse(); got != 100 {
		t.Fatalf("in use = %d, want 100", got)
	}
}

func TestBudgetFirstComeFirstServed(t *testing.T) {
	b, fake := newFakeBudget(100, time.Minute)
	var d time.Time
	b.acquire(context.Background(), 100, &d)
	big, small := make(chan error), make(chan error)
	go func() {
		var d time.Time
		big <- b.acquire(context.Background(), 80, &d)
	}()
	waitWaiters(t, fake, 1)
	go func() {
		var d time.Time
		small <- b.acquire(context.Background(), 10, &d)
	}()
	waitWaiters(t, fake, 2)
	// 30 free: the small body would fit, but the large one came first.
	b.Release(30)
	if got := b.InUse(); got != 70 {
		t.Fatalf("in use = %d after releasing 30 of 100: a later small body overtook a waiting large one", got)
	}
	b.Release(70)
	if err := <-big; err != nil {
		t.Fatal(err)
	}
	if err := <-small; err != nil {
		t.Fatal(err)
	}
}

func TestBudgetGivesUpWithTheClient(t *testing.T) {
	b, fake := newFakeBudget(10, time.Minute)
	var d time.Time
	b.acquire(context.Background(), 10, &d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		var d time.Time
		done <- b.acquire(ctx, 5, &d)
	}()
	waitWaiters(t, fake, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	b.Release(10)
	if got := b.InUse(); got != 0 {
		t.Fatalf("in use = %d, want 0", got)
	}
}

// newFakeBudget is NewBudget on a fake clock, so a test can wait for
// bodies to queue (each waiting body arms one timer) instead of polling.
func newFakeBudget(max int64, wait time.Duration) (*Budget, *clock.Fake) {
	b := NewBudget(max, wait)
	fake := clock.NewFake(time.Unix(1000, 0))
	b.Clock = fake
	return b, fake
}

// waitWaiters waits until n bodies are queued, waiting on fake.
func waitWaiters(t *testing.T, fake *clock.Fake, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fake.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d bodies to queue: %v", n, err)
	}
}
