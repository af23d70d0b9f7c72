package firehose

import (
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/sinks/dest"
)

// This file is what happens when the destination refuses an object for
// good (a dest.PermanentError: a key it will not take, a denied request):
// the object's records are rerouted to the error output instead of being
// retried forever, which would hold them, and the write-ahead log under
// them, until someone noticed. Transient errors are retried as before.
//
// A reroute is one write-ahead-log entry: a flush intent for a new object
// under the error output prefix, with the same records (the same
// partition and sequence range) and the failure (Fail), naming the object
// it replaces (Replaces). Recovery takes the replaced object as done, so
// after a crash the records go to the error output object, once.
//
// An object that already is a reroute is not rerouted again: it is
// retried, with back-off, and shows as failing (Backlog) until the
// destination takes it. There is nowhere else to put its records.

// ErrTypeDeliveryFailed is the error output type of records whose object
// the destination refused for good. The envelope's errorCode names the
// cause (S3.AccessDenied, S3.KeyTooLongError, LocalDir.InvalidKey, ...)
// and errorMessage holds the destination's error. Firehose has no such
// type (it retries S3 delivery for up to 24 hours, then ... undocumented
// for S3 destinations); this one is Sluice's own.
const ErrTypeDeliveryFailed = "delivery-failed"

// failRec is a permanent failure as logged with a reroute.
type failRec struct {
	Code string `json:"code"`
	Msg  string `json:"msg"`
	At   int64  `json:"at"` // unix milliseconds
}

// failureRoute is the route of a rerouted object.
func failureRoute(f failRec) *route {
	rt := &route{ErrType: ErrTypeDeliveryFailed, ErrCode: f.Code, ErrMsg: f.Msg, endedMs: f.At}
	rt.part = rt.partID()
	return rt
}

// reroutedRefs returns refs with each record's route replaced by the
// failure's. A record that was already on its way to the error output
// keeps its first error in the message.
func reroutedRefs(refs []ref, f failRec) []ref {
	base := failureRoute(f)
	byOrig := map[*route]*route{}
	out := make([]ref, len(refs))
	for i, r := range refs {
		rt := base
		if r.rt.ErrType != "" {
			if rt = byOrig[r.rt]; rt == nil {
				c := *base
				c.ErrMsg = fmt.Sprintf("%s; the record had failed before with %s: %s", f.Msg, r.rt.ErrCode, r.rt.ErrMsg)
				rt = &c
				byOrig[r.rt] = rt
			}
		}
		r.rt = rt
		out[i] = r
	}
	return out
}

// reroute replaces the claimed job j, which failed with p, by a job
// writing its records to the error output, and logs the replacement (not
// yet synced: runJob syncs an intent before it writes). It returns the new
// job.
func (d *DeliveryStream) reroute(j *job, p *dest.PermanentError, cause error) (*job, error) {
	now := d.clk.Now()
	f := failRec{Code: p.Code, Msg: cause.Error(), At: now.UnixMilli()}
	rt := failureRoute(f)
	refs := reroutedRefs(j.refs, f)
	oldest := refs[0].arrival
	for _, r := range refs[1:] {
		oldest = min(oldest, r.arrival)
	}
	in := intentRec{Part: j.Part, Lo: j.Lo, Hi: j.Hi, N: j.N, Bytes: j.Bytes, Reason: j.Reason, At: f.At,
		Replaces: j.Key, Fail: &f}
	in.Key = d.objectKey(rt, rt.part, j.Lo, j.Hi, time.Unix(0, oldest))
	pos, err := d.journal.appendIntent(in, &j.pos) // the replaced intent is resolved
	if err != nil {
		return nil, err
	}
	nj := &job{intentRec: in, rt: rt, refs: refs, pos: pos, since: j.since}
	d.m.objectsRefused.WithLabelValues(p.Code).Inc()
	d.m.recordsFailed.WithLabelValues(ErrTypeDeliveryFailed).Add(float64(j.N))
	d.queue.replace(j, nj, fmt.Sprintf("%s: %s refused (%s); %d records rerouted to %s", now.UTC().Format(time.RFC3339), j.Key, p.Code, j.N, in.Key))
	return nj, nil
}

// Backlog is what a delivery stream has decided to write but the
// destination has not taken yet, and what it refused.
type Backlog struct {
	// PendingObjects are objects waiting for the destination: being
	// written, due, or waiting to be retried.
	PendingObjects int
	// OldestPending is how long the oldest of them has waited since its
	// flush was decided.
	OldestPending time.Duration
	// FailingObjects are pending objects whose last attempt failed; they
	// are retried with back-off.
	FailingObjects int
	// LastError is the most recent failure of a failing object, with its
	// key and time; empty when nothing is failing.
	LastError    string
	LastErrorKey string
	LastErrorAt  time.Time
	// RefusedObjects counts objects the destination refused for good since
	// the stream opened; their records went to the error output as
	// delivery-failed. LastRefusal describes the latest.
	RefusedObjects int
	LastRefusal    string
}

// Backlog reports the stream's pending and failing objects.
func (d *DeliveryStream) Backlog() Backlog {
	now := d.clk.Now()
	q := d.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	b := Backlog{PendingObjects: len(q.jobs), RefusedObjects: q.refused, LastRefusal: q.lastRefusal}
	for _, j := range q.jobs {
		b.OldestPending = max(b.OldestPending, now.Sub(j.since))
		if j.attempts == 0 {
			continue
		}
		b.FailingObjects++
		if j.failedAt.After(b.LastErrorAt) || b.LastErrorKey == "" {
			b.LastError, b.LastErrorKey, b.LastErrorAt = j.lastErr, j.Key, j.failedAt
		}
	}
	return b
}
