package firehose

import (
	"context"
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
	d := openTest(t, testConfig(), t.TempDir(), g, newClock(), func(o *Options) {
		o.Now = time.Now // the scheduler waits in real time
		o.MaxBufferInterval = 10 * time.Millisecond
	})
	defer d.Close(context.Background())
	defer close(g.release)
	bound := time.After(30 * time.Second) // bounds a missing flush; not a synchronisation
	mustAccept(t, d, batch("s", "1", rec("a", time.Now())))
	select {
	case <-g.started: // the first object is being written, and held
	case <-bound:
		t.Fatal("the first buffer was not flushed on its interval")
	}
	// Same partition, previous object still in flight: a new buffer.
	mustAccept(t, d, batch("s", "2", rec("b", time.Now())))
	select {
	case <-g.started:
	case <-bound:
		t.Fatal("a buffer started while its partition's previous object was in flight was never flushed on its interval")
	}
}
