package frontdoor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// ErrBusy is returned when a request body could not get room in its Budget
// within the budget's wait: the server holds as many request bytes as it
// allows. The APIs answer it with 503, which the AWS SDKs retry.
var ErrBusy = errors.New("the server is holding its maximum of request bytes in flight; retry")

// Budget bounds the request body bytes held in memory at once, across
// every listener and API that shares it. Bodies take their bytes as they
// arrive (never by the Content-Length a client announces), so clients that
// send headers and then nothing hold nothing; a body that cannot get room
// waits, first come first served, up to the budget's wait and then fails
// with ErrBusy.
type Budget struct {
	// Clock measures each body's wait; nil is the wall clock. Set it
	// before the budget is used.
	Clock clock.Clock

	max  int64
	wait time.Duration

	mu      sync.Mutex
	used    int64
	waiters []*waiter // FIFO: a large body is not starved by small ones
}

type waiter struct {
	n     int64
	ready chan struct{} // closed once the bytes are granted
}

// DefaultInflightWait is how long a body waits for room when NewBudget is
// given no wait.
const DefaultInflightWait = 2 * time.Second

// NewBudget returns a budget of max bytes (max <= 0: unlimited) whose
// bodies wait up to wait for room (wait <= 0: DefaultInflightWait).
func NewBudget(max int64, wait time.Duration) *Budget {
	if wait <= 0 {
		wait = DefaultInflightWait
	}
	return &Budget{max: max, wait: wait}
}

// InUse returns the bytes currently held (for tests and metrics).
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// acquire takes n bytes for a body. When it has to wait, the body's
// deadline (*deadline, set at its first wait) bounds the total time one
// body spends waiting, however many chunks it waits for.
func (b *Budget) acquire(ctx context.Context, n int64, deadline *time.Time) error {
	if b == nil || b.max <= 0 || n <= 0 {
		return nil
	}
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.max {
		b.used += n
		b.mu.Unlock()
		return nil
	}
	if n > b.max {
		b.mu.Unlock()
		return fmt.Errorf("a chunk of %d bytes is over the budget of %d: %w", n, b.max, ErrBusy)
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()

	c := clock.Or(b.Clock)
	if deadline.IsZero() {
		*deadline = c.Now().Add(b.wait)
	}
	timer := c.NewTimer(c.Until(*deadline))
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-timer.Chan():
		err = ErrBusy
	case <-ctx.Done():
		err = fmt.Errorf("waiting for room for the request body: %w", ctx.Err())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready:
		return nil // granted while we gave up: keep it, the caller releases it
	default:
	}
	for k, o := range b.waiters {
		if o == w {
			b.waiters = append(b.waiters[:k], b.waiters[k+1:]...)
			break
		}
	}
	// The head of the queue may have been the one blocking the others.
	b.grantLocked()
	return err
}

// Release returns n bytes taken by acquire.
func (b *Budget) Release(n int64) {
	if b == nil || b.max <= 0 || n <= 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.grantLocked()
	b.mu.Unlock()
}

// grantLocked wakes waiters, in order, while the next one fits.
func (b *Budget) grantLocked() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.max {
			return
		}
		b.used += w.n
		close(w.ready)
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
	}
}
