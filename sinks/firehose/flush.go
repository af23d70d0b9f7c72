package firehose

import (
	"context"
	"fmt"
	"time"
)

// This file is flush scheduling: when a partition's buffer becomes an
// object (its size reached, its interval elapsed, Flush or Close), and the
// one goroutine that watches the clock for intervals and retries.

// detachLocked turns a partition's buffer into a flush: it records the
// intent in the write-ahead log (not yet synced: the flush syncs before it
// writes) and queues the job. It returns the intent's lsn. Called with
// d.buffers.mu held, so no record joins the buffer meanwhile.
func (d *DeliveryStream) detachLocked(part, reason string) (uint64, error) {
	buf := d.buffers.buffers[part]
	if buf == nil || len(buf.refs) == 0 {
		return 0, nil
	}
	oldest := buf.refs[0].arrival
	for _, r := range buf.refs[1:] {
		oldest = min(oldest, r.arrival)
	}
	lo, hi := buf.refs[0].seq, buf.refs[len(buf.refs)-1].seq
	now := d.clk.Now()
	in := intentRec{Part: part, Lo: lo, Hi: hi, N: len(buf.refs), Bytes: buf.bytes, Reason: reason, At: now.UnixMilli()}
	in.Key = d.objectKey(buf.rt, part, lo, hi, time.Unix(0, oldest))
	pos, err := d.journal.appendIntent(in, nil)
	if err != nil {
		return 0, err
	}
	d.buffers.removeLocked(part)
	// Queued before the buffer set's lock is released: a Flush that finds
	// the buffer gone finds the job.
	d.queue.add(&job{intentRec: in, rt: buf.rt, refs: buf.refs, pos: pos, since: now})
	return pos.lsn, nil
}

// Flush writes every buffered partition now (reason "manual") and waits
// for every pending object, including ones being retried.
func (d *DeliveryStream) Flush(ctx context.Context) error {
	return d.flush(ctx, ReasonManual, func(*buffer) bool { return true })
}

// FlushDue writes the partitions whose BufferInterval has elapsed by the
// stream's clock (reason "interval"), then waits for every pending object.
// The background scheduler does the same on its own; tests with a fake
// clock call it directly.
func (d *DeliveryStream) FlushDue(ctx context.Context) error {
	now := d.clk.Now()
	return d.flush(ctx, ReasonInterval, func(b *buffer) bool { return d.buffers.dueLocked(b, now) })
}

func (d *DeliveryStream) flush(ctx context.Context, reason string, pick func(*buffer) bool) error {
	if err := d.detachPicked(reason, pick); err != nil {
		return fmt.Errorf("flush delivery stream %q: %w", d.cc.cfg.Name, err)
	}
	if err := d.drain(ctx); err != nil {
		return fmt.Errorf("flush delivery stream %q: %w", d.cc.cfg.Name, err)
	}
	return nil
}

// detachPicked turns the buffers pick selects into flushes, in partition
// order, stopping at the first failure (the log is then poisoned).
func (d *DeliveryStream) detachPicked(reason string, pick func(*buffer) bool) error {
	s := d.buffers
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.gaugesLocked()
	for _, p := range s.pickLocked(pick) {
		if _, err := d.detachLocked(p, reason); err != nil {
			return err
		}
	}
	return nil
}

// wake makes the scheduler look at the buffers and jobs again.
func (d *DeliveryStream) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// schedule is the one goroutine that watches buffer ages and retry times;
// there is no timer per record or per partition.
func (d *DeliveryStream) schedule() {
	defer d.wg.Done()
	t := d.clk.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := d.clk.Now()
		next := d.buffers.nextDeadline()
		if r := d.queue.nextRetry(now); !r.IsZero() && (next.IsZero() || r.Before(next)) {
			next = r
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(now), 0)
		}
		t.Reset(wait)
		if next.IsZero() || d.clk.Now().Before(next) {
			select {
			case <-d.ctx.Done():
				return
			case <-d.kick:
			case <-t.Chan():
			}
		} else if d.ctx.Err() != nil {
			return
		} // else the clock passed the deadline while the timer was being
		// armed, relative to a now already stale (a fake clock advanced
		// meanwhile), and the timer could fire late: look at once.
		now = d.clk.Now()
		if err := d.detachPicked(ReasonInterval, func(b *buffer) bool { return d.buffers.dueLocked(b, now) }); err != nil {
			// The log is poisoned: nothing can be flushed until reopen, and
			// looping on the still-due buffer would spin.
			d.log.Error("interval flush failed; delivery stopped until the stream is reopened", "err", err)
			return
		}
		d.dispatch()
	}
}
