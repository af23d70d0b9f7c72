// Package clock is the one source of time for every Sluice component.
//
// Components take a Clock (or a Now function from one) instead of calling
// time.Now, time.Sleep or time.NewTicker, so that a test, or a deterministic
// replay of a whole pipeline, can drive the app on virtual time: advance a
// Fake and every iterator expiry, flush deadline, retry back-off and
// checkpoint interval moves with it. The interface is clockwork's, a small
// well-kept library, so a Fake offers BlockUntilContext to wait for the code
// under test to arm its timers instead of sleeping.
//
// The only direct reads of the wall clock in non-test code are here and in
// duration metrics (time.Since of a start taken from the same Clock is fine).
package clock

import (
	"context"
	"time"

	"github.com/jonboulle/clockwork"
)

// Clock tells the time and makes timers; see clockwork.Clock.
type Clock = clockwork.Clock

// Timer and Ticker are the clock's timers; their channel is Chan().
type (
	Timer  = clockwork.Timer
	Ticker = clockwork.Ticker
)

// Fake is a clock that moves only when told (Advance), for tests and replay.
type Fake = clockwork.FakeClock

var real = clockwork.NewRealClock()

// Real returns the wall clock.
func Real() Clock { return real }

// Or returns c, or the wall clock when c is nil: the default for an
// optional Clock field in a component's options.
func Or(c Clock) Clock {
	if c == nil {
		return real
	}
	return c
}

// NewFake returns a fake clock that reads t until advanced.
func NewFake(t time.Time) *Fake { return clockwork.NewFakeClockAt(t) }

// Sleep waits for d on c, or until ctx ends; it returns ctx.Err() in the
// latter case. A non-positive d returns at once (after checking ctx).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Chan():
		return nil
	}
}

// WithTimeout is context.WithTimeout measured on c, so a fake clock's
// Advance expires it; its Err is then context.DeadlineExceeded, as with the
// standard library. (clockwork's own WithTimeout blocks in Err until the
// deadline, so it is not used.)
func WithTimeout(ctx context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if c == real {
		return context.WithTimeout(ctx, d)
	}
	inner, cancel := context.WithCancelCause(ctx)
	t := c.AfterFunc(d, func() { cancel(context.DeadlineExceeded) })
	return deadlineContext{inner}, func() {
		t.Stop()
		cancel(context.Canceled)
	}
}

// deadlineContext reports an expiry on fake time as DeadlineExceeded.
type deadlineContext struct{ context.Context }

func (c deadlineContext) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == context.DeadlineExceeded {
		return context.DeadlineExceeded
	}
	return err
}

// WithNow returns c with another source for the time of day: timers and
// sleeps stay on c, Now, Since and Until read now. It serves the older
// options that took only a Now function (streams.Options.Clock,
// firehose.Options.Now), which moved the time of day but not the timers.
func WithNow(c Clock, now func() time.Time) Clock {
	return nowClock{Clock: c, now: now}
}

type nowClock struct {
	Clock
	now func() time.Time
}

func (c nowClock) Now() time.Time                  { return c.now() }
func (c nowClock) Since(t time.Time) time.Duration { return c.now().Sub(t) }
func (c nowClock) Until(t time.Time) time.Duration { return t.Sub(c.now()) }
