package kinesis

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
)

// cpWriter writes a shard's checkpoint in the background, always the
// latest one asked for, and at most once per Options.CheckpointInterval. A
// store write costs an fsync or two; doing it inline would hold the next
// batch back by that much (it dominated put→invoke latency), and doing it
// for every small batch keeps the disk busy under the stream's own
// fsyncs (at 5,000 records/s over 4 shards, 400 store writes a second). It
// is safe to lag: the sink already holds the checkpoint with the output it
// accepted (handover.Source.Checkpoint), a restart resumes from the later of
// the two, and without a sink a lagging checkpoint only means records are
// delivered again (at least once, as on AWS). close writes the last one at
// once.
type cpWriter struct {
	m     *Mapping
	shard string
	epoch uint64

	mu      sync.Mutex
	want    string
	written string
	fenced  bool
	kick    chan struct{}
	closing chan struct{} // closed by close: stop pacing, write now
	done    chan struct{}
}

func (m *Mapping) newCPWriter(shard string, epoch uint64, from string) *cpWriter {
	w := &cpWriter{m: m, shard: shard, epoch: epoch, want: from, written: from, kick: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// set asks for cp to be written; it reports false once another owner has
// fenced this one (the shard must be given up).
func (w *cpWriter) set(cp string) bool {
	w.mu.Lock()
	w.want = cp
	fenced := w.fenced
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return !fenced
}

func (w *cpWriter) loop() {
	defer close(w.done)
	var last time.Time // when the last write started
	for {
		_, open := <-w.kick
		if d := w.m.opts.CheckpointInterval - w.m.opts.Clock.Since(last); open && d > 0 {
			t := w.m.opts.Clock.NewTimer(d)
			select {
			case <-t.Chan():
			case <-w.closing:
			}
			t.Stop()
		}
		last = w.m.opts.Clock.Now()
		w.mu.Lock()
		cp, written, fenced := w.want, w.written, w.fenced
		w.mu.Unlock()
		if cp != written && !fenced {
			err := w.put(cp)
			w.mu.Lock()
			switch {
			case err == nil:
				w.written = cp
			case errors.Is(err, checkpoint.ErrFenced):
				w.fenced = true
			}
			w.mu.Unlock()
		}
		if !open {
			return
		}
	}
}

func (w *cpWriter) current() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written
}

// put writes cp, retrying transient errors for up to the drain timeout.
func (w *cpWriter) put(cp string) error {
	ctx, cancel := clock.WithTimeout(context.Background(), w.m.opts.Clock, w.m.opts.DrainTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := w.m.store.Put(ctx, w.m.cfg.ID, w.shard, checkpoint.Position{SequenceNumber: cp, Epoch: w.epoch})
		if err == nil || errors.Is(err, checkpoint.ErrFenced) {
			if err != nil {
				w.m.log.Warn("another owner took the shard over", "shard", w.shard, "err", err)
			}
			return err
		}
		w.m.log.Error("writing checkpoint; retrying", "shard", w.shard, "err", err)
		if !w.m.sleep(ctx, w.m.backoff(attempt)) {
			return err
		}
	}
}

// close writes the last checkpoint asked for and stops the writer; set
// must not be called after it. It reports whether that checkpoint is
// durable.
func (w *cpWriter) close() bool {
	close(w.closing)
	close(w.kick)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written == w.want
}
