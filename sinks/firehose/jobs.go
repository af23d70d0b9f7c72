package firehose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/sinks/dest"
)

// This file is object jobs: flushes decided (their intent logged) and not
// yet confirmed by the destination, who writes them (the background
// workers, or the caller of Flush), and their retries.

// job is one pending object.
type job struct {
	intentRec
	rt       *route
	refs     []ref
	pos      walPos // where the intent is in the log
	claimed  bool   // a goroutine is writing it
	retryAt  time.Time
	attempts int
	since    time.Time // when the flush was decided
	lastErr  string    // the last failed attempt's error
	failedAt time.Time // and when it failed
}

// maxRetryGap caps the back-off between attempts at one object.
const maxRetryGap = 30 * time.Second

// objectQueue holds the pending objects. A job is claimed by the goroutine
// that writes it, so two never write one object at once. Its lock may be
// taken with the buffer set's held (a flush queues its job); holding it,
// nothing takes another of the stream's locks.
type objectQueue struct {
	m *metrics

	mu          sync.Mutex
	jobs        map[string]*job // by object key
	changed     chan struct{}   // closed and replaced when a job ends or fails
	refused     int             // objects rerouted after a permanent failure
	lastRefusal string          // the latest, described
}

func newObjectQueue(m *metrics) *objectQueue {
	return &objectQueue{m: m, jobs: map[string]*job{}, changed: make(chan struct{})}
}

func (q *objectQueue) add(j *job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs[j.Key] = j
	q.gaugesLocked()
}

// claimForDrain claims the first unclaimed job not yet tried by this
// drain. Without one, it reports whether a job this drain has not tried
// is being written elsewhere, and the channel that tells when that
// changes.
func (q *objectQueue) claimForDrain(tried map[string]bool) (next *job, waitable bool, changed <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, k := range sortedKeys(q.jobs) {
		if j := q.jobs[k]; !j.claimed && !tried[k] {
			j.claimed = true
			return j, false, nil
		}
	}
	for k, j := range q.jobs {
		if j.claimed && !tried[k] {
			waitable = true
		}
	}
	return nil, waitable, q.changed
}

// failed unclaims a job whose attempt failed, to be retried with back-off.
// It returns the attempts so far.
func (q *objectQueue) failed(j *job, err error, now time.Time) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	j.claimed = false
	j.attempts++
	j.lastErr, j.failedAt = err.Error(), now
	j.retryAt = now.Add(min(maxRetryGap, time.Duration(1<<min(j.attempts, 10))*100*time.Millisecond))
	q.m.deliveryErrors.Inc()
	q.gaugesLocked()
	q.notifyLocked()
	return j.attempts // once unlocked, another worker may claim the job
}

// replace swaps a refused job for its reroute.
func (q *objectQueue) replace(old, nj *job, refusal string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.jobs, old.Key)
	q.jobs[nj.Key] = nj
	q.refused++
	q.lastRefusal = refusal
	q.m.deliveryErrors.Inc()
	q.gaugesLocked()
	q.notifyLocked()
}

// done removes a delivered job.
func (q *objectQueue) done(j *job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.jobs, j.Key)
	q.gaugesLocked()
	q.notifyLocked()
}

// nextRetry is the earliest retry time after now of a job waiting for one
// (zero: none). A job due now but not running waits for a free slot, and
// the write that frees it dispatches again; only future retries need a
// timer.
func (q *objectQueue) nextRetry(now time.Time) time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	for _, j := range q.jobs {
		if !j.claimed && j.retryAt.After(now) && (next.IsZero() || j.retryAt.Before(next)) {
			next = j.retryAt
		}
	}
	return next
}

func (q *objectQueue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

func (q *objectQueue) gaugesLocked() {
	q.m.pendingObjects.Set(float64(len(q.jobs)))
	failing := 0
	for _, j := range q.jobs {
		if j.attempts > 0 {
			failing++
		}
	}
	q.m.failingObjects.Set(float64(failing))
}

// drain runs pending jobs in the caller's goroutine (each at most once per
// call, whatever its retry time) and waits for jobs running elsewhere. It
// returns the errors of the jobs it ran.
func (d *DeliveryStream) drain(ctx context.Context) error {
	tried := map[string]bool{}
	var errs []error
	for {
		next, waitable, changed := d.queue.claimForDrain(tried)
		switch {
		case next != nil:
			tried[next.Key] = true
			if err := d.runJob(ctx, next); err != nil {
				errs = append(errs, err)
			}
		case waitable:
			select {
			case <-changed:
			case <-ctx.Done():
				return errors.Join(append(errs, ctx.Err())...)
			}
		default:
			return errors.Join(errs...)
		}
	}
}

// dispatch starts background writes for pending jobs that are due, up to
// FlushConcurrency at once.
func (d *DeliveryStream) dispatch() {
	q := d.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if d.ctx == nil || d.ctx.Err() != nil {
		return
	}
	now := d.clk.Now()
	for _, k := range sortedKeys(q.jobs) {
		j := q.jobs[k]
		if j.claimed || now.Before(j.retryAt) {
			continue
		}
		select {
		case d.sem <- struct{}{}:
		default:
			return
		}
		j.claimed = true
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.runJob(d.ctx, j) // errors are logged and retried
			<-d.sem
			d.dispatch()
		}()
	}
}

// runJob writes one object: make the intent durable, stream the body to
// the destination, then record the flush as done. The job must be claimed.
func (d *DeliveryStream) runJob(ctx context.Context, j *job) error {
	err := d.journal.sync(j.pos.lsn)
	if err == nil {
		err = d.put(ctx, j)
	}
	if err != nil {
		if p, ok := dest.AsPermanent(err); ok && j.Fail == nil {
			if nj, rerr := d.reroute(j, p, err); rerr == nil {
				d.log.Error("the destination refused an object for good; its records go to the error output",
					"key", j.Key, "code", p.Code, "records", j.N, "error_output_key", nj.Key, "err", err)
				d.wake()
				return nil
			}
			// The log is poisoned: retry as any failure, the reopen replays.
		}
		attempts := d.queue.failed(j, err, d.clk.Now())
		d.log.Warn("object delivery failed; will retry", "key", j.Key, "attempts", attempts, "err", err)
		d.wake()
		return fmt.Errorf("deliver %s: %w", j.Key, err)
	}
	d.journal.appendDone(j)
	// Everything the object's delivery changes is settled before the job
	// leaves the queue: a Flush that waited for it sees the partition
	// released, the object counted and the log space reclaimed.
	d.buffers.release(j.Part)
	d.m.objects.WithLabelValues(j.Reason).Inc()
	d.m.objectBytes.Add(float64(j.Bytes))
	if j.Fail == nil {
		d.alarm.note(j)
	}
	if err := d.journal.gc(); err != nil {
		d.log.Warn("reclaiming write-ahead log space failed", "err", err)
	}
	d.queue.done(j)
	return nil
}

// put streams the object of j to the destination.
func (d *DeliveryStream) put(ctx context.Context, j *job) error {
	meta := ObjectMeta{
		ContentType:     "application/octet-stream",
		ContentEncoding: d.cc.encoding,
		FlushReason:     j.Reason,
		Records:         j.N,
		Extra: map[string]string{
			"delivery-stream": d.cc.cfg.Name,
			"sequence-range":  fmt.Sprintf("%d-%d", j.Lo, j.Hi),
		},
	}
	if j.rt.ErrType != "" {
		meta.Extra["error-output-type"] = j.rt.ErrType
	}
	pr, pw := io.Pipe()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		pw.CloseWithError(d.writeObject(pw, j))
	}()
	err := d.opts.Destination.Put(ctx, d.cc.cfg.Bucket, j.Key, pr, meta)
	pr.CloseWithError(errors.New("destination stopped reading"))
	<-wrote
	return err
}
