package firehose

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// gatedDest holds the first Put until release is closed and reports every
// Put as it starts.
type gatedDest struct {
	*memDest
	started chan string
	release chan struct{}
	held    atomic.Bool
}

func (g *gatedDest) Put(ctx context.Context, bucket, key string, body io.Reader, meta ObjectMeta) error {
	g.started <- key
	if g.held.CompareAndSwap(false, true) {
		<-g.release
	}
	return g.memDest.Put(ctx, bucket, key, body, meta)
}

// TestIntervalFlushWhileObjectInFlight: records that arrive for a partition
// while its previous object is still being written start a new buffer, and
// that buffer's interval is watched like any other. The scheduler used to
// be woken only for a partition that was not active at all, so after it
// had flushed every buffer it slept (an hour) through the new ones; e2e's
// TestKillMidFlushKeepsS3ExactlyOnce saw archive objects stop while clicks
// kept coming.
func TestIntervalFlushWhileObjectInFlight(t *testing.T) {
	g := &gatedDest{memDest: newMemDest(), started: make(chan string, 16), release: make(chan struct{})}
	clk := newClock()
	d := openTest(t, testConfig(), t.TempDir(), g, clk, func(o *Options) {
		o.Clock = clk // the scheduler's timers run on the fake clock
		o.MaxBufferInterval = time.Minute
	})
	defer d.Close(context.Background())
	defer close(g.release)
	bound := time.After(30 * time.Second) // bounds a missing flush; not a synchronisation
	mustAccept(t, d, batch("s", "1", rec("a", clk.Now())))
	clk.Advance(time.Minute)
	select {
	case <-g.started: // the first object is being written, and held
	case <-bound:
		t.Fatal("the first buffer was not flushed on its interval")
	}
	// Same partition, previous object still in flight: a new buffer.
	mustAccept(t, d, batch("s", "2", rec("b", clk.Now())))
	clk.Advance(time.Minute)
	select {
	case <-g.started:
	case <-bound:
		t.Fatal("a buffer started while its partition's previous object was in flight was never flushed on its interval")
	}
}

// failOnceDest fails the first Put and reports every Put as it starts.
type failOnceDest struct {
	*memDest
	started chan string
	failed  atomic.Bool
}

func (f *failOnceDest) Put(ctx context.Context, bucket, key string, body io.Reader, meta ObjectMeta) error {
	f.started <- key
	if f.failed.CompareAndSwap(false, true) {
		io.Copy(io.Discard, body)
		return errors.New("injected transient failure")
	}
	return f.memDest.Put(ctx, bucket, key, body, meta)
}

// waitFailing waits until n pending objects have failed an attempt.
func waitFailing(t *testing.T, d *DeliveryStream, n int) {
	t.Helper()
	for {
		d.queue.mu.Lock()
		failing, changed := 0, d.queue.changed
		for _, j := range d.queue.jobs {
			if j.attempts > 0 && !j.claimed {
				failing++
			}
		}
		d.queue.mu.Unlock()
		if failing >= n {
			return
		}
		<-changed
	}
}

// TestRetryRunsOnTheStreamClock: a failed object is retried by the
// background scheduler once its back-off has elapsed on the stream's
// clock, here a fake one that only the test moves.
func TestRetryRunsOnTheStreamClock(t *testing.T) {
	f := &failOnceDest{memDest: newMemDest(), started: make(chan string, 16)}
	clk := newClock()
	d := openTest(t, testConfig(), t.TempDir(), f, clk, func(o *Options) { o.Clock = clk })
	defer d.Close(context.Background())
	mustAccept(t, d, batch("s", "1", rec("a", clk.Now())))
	clk.Advance(testConfig().BufferInterval) // the scheduler flushes the buffer
	first := <-f.started
	waitFailing(t, d, 1)
	clk.Advance(maxRetryGap) // past any back-off
	select {
	case key := <-f.started:
		if key != first {
			t.Fatalf("retried %s, want %s", key, first)
		}
	case <-time.After(30 * time.Second): // bounds a missing retry; not a synchronisation
		t.Fatal("the failed object was not retried after its back-off")
	}
	if err := d.Flush(context.Background()); err != nil { // waits for the retry
		t.Fatal(err)
	}
	if got := f.keys(); len(got) != 1 || got[0] != "lake/"+first {
		t.Fatalf("objects = %v, want %s", got, first)
	}
}
