package kinesis

import (
	"context"
	"errors"
	"math/big"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
)

// shardReader is one shard's read position: the iterator and the last
// sequence number seen, from which an expired iterator is renewed.
type shardReader struct {
	m        *Mapping
	shard    types.Shard
	id       string
	iterator *string
	lastSeen string  // last sequence number read (not necessarily handled)
	ended    bool    // NextShardIterator came back null: closed and drained
	win      *window // the open tumbling window, if any
	epoch    uint64  // the fencing token from Claim, sent with every Put
	age      *shardAge
}

// runShard reads one shard until ctx is cancelled or the shard ends.
// first says the shard belongs to the mapping's first discovery, whose
// shards report to Positioned once they have a read position.
func (m *Mapping) runShard(ctx context.Context, shard types.Shard, first bool) {
	id := aws.ToString(shard.ShardId)
	log := m.log.With("shard", id)
	ended := false
	defer func() { m.shardDone(id, ended) }()
	var positionOnce sync.Once
	positioned := func() {
		if first {
			positionOnce.Do(m.positioning.Done)
		}
	}
	defer positioned() // cancelled before it had a position: nobody waits any more

	sourceID := m.cfg.ID + "/" + id
	pos, err := m.retryClaim(ctx, id)
	if err != nil {
		return // ctx cancelled
	}
	if pos.ShardEnd {
		ended = true
		return
	}

	// The sink stores the checkpoint with the output it accepted, so after a
	// crash between the two writes it may be ahead of the store: resume from
	// the later of the two and nothing accepted is handed over twice.
	if m.sink != nil {
		if s := m.sink.Checkpoint(sourceID); seqLess(pos.SequenceNumber, s) {
			pos.SequenceNumber = s
		}
	}
	age := m.m.iteratorAge.shard(m.cfg.ID, id, m.opts.Now)
	defer age.reset()
	r := &shardReader{m: m, shard: shard, id: id, lastSeen: pos.SequenceNumber, epoch: pos.Epoch, age: age}
	if err := r.open(ctx, pos.SequenceNumber); err != nil {
		if ctx.Err() == nil {
			log.Error("opening shard", "err", err)
		}
		return
	}
	positioned()
	log.Debug("reading shard", "from", pos.SequenceNumber)

	base := pos.SequenceNumber // where the next round starts
	cpw := m.newCPWriter(id, pos.Epoch, base)
	flushed := false
	defer func() {
		if !flushed {
			cpw.close()
		}
	}()
	p := m.newPipeline(ctx, id, sourceID, base, cpw)
	p.age = age
	defer p.close() // before cpw.close: lanes may still be handing over
	windowStart := m.opts.Clock.Now()
	for {
		batch, err := r.gather(p.ctx, windowStart)
		if err != nil {
			return // ctx cancelled; records gathered but not invoked are read again later
		}
		switch {
		case m.cfg.TumblingWindow > 0:
			if len(batch) > 0 {
				age.inFlight(aws.ToTime(batch[0].ApproximateArrivalTimestamp))
				if !m.runWindowRound(ctx, r, sourceID, batch) {
					return
				}
				age.inFlight(time.Time{})
			}
			if r.win != nil && (r.ended || !m.opts.Now().Before(r.win.end)) {
				// The window's time is up, or the shard ended: final
				// invocation, then the checkpoint moves.
				if !m.closeWindow(ctx, r, sourceID) {
					return
				}
			}
		case len(batch) > 0:
			rd := newRound(id, sourceID, base, m.cfg.ParallelizationFactor, batch, m.keep)
			rd.p = p
			base = aws.ToString(batch[len(batch)-1].SequenceNumber)
			if !p.dispatch(rd) {
				return
			}
		}
		// Kinesis: the next window starts when the invocation completes
		// (with lanes: when the read is handed to them).
		windowStart = m.opts.Clock.Now()
		if r.ended {
			if !p.drain() {
				return
			}
			flushed = true
			if !cpw.close() {
				return
			}
			if err := m.store.Put(context.WithoutCancel(ctx), m.cfg.ID, id, checkpoint.Position{SequenceNumber: r.lastSeen, ShardEnd: true, Epoch: r.epoch}); err != nil {
				log.Error("recording shard end", "err", err)
				return
			}
			ended = true
			log.Info("shard ended")
			return
		}
	}
}

// retryClaim takes ownership of the shard in the checkpoint store: its
// epoch fences any earlier owner's writes (checkpoint.ErrFenced).
func (m *Mapping) retryClaim(ctx context.Context, shardID string) (checkpoint.Position, error) {
	for attempt := 0; ; attempt++ {
		pos, err := m.store.Claim(ctx, m.cfg.ID, shardID, m.opts.Owner)
		if err == nil {
			return pos, nil
		}
		m.log.Error("reading checkpoint", "shard", shardID, "err", err)
		if !m.sleep(ctx, backoff(attempt)) {
			return pos, ctx.Err()
		}
	}
}

// open gets the first iterator: after the checkpoint when there is one,
// from the start of a child shard, else at the mapping's StartingPosition.
func (r *shardReader) open(ctx context.Context, after string) error {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(r.m.cfg.StreamName), ShardId: aws.String(r.id)}
	switch {
	case after != "":
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(after)
	case r.shard.ParentShardId != nil:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	default:
		in.ShardIteratorType = types.ShardIteratorType(r.m.cfg.StartingPosition)
		in.Timestamp = r.m.cfg.StartingPositionTimestamp
	}
	for attempt := 0; ; attempt++ {
		out, err := r.m.read.GetShardIterator(ctx, in)
		if err == nil {
			r.iterator = out.ShardIterator
			return nil
		}
		if ctx.Err() != nil || !retryable(err) {
			return err
		}
		r.m.log.Warn("getting shard iterator", "shard", r.id, "err", err)
		if !r.m.sleep(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
}

// gather collects the next batch: it returns when BatchSize records are in
// hand, when the batching window (started at windowStart) has passed with
// at least one record, at once when the window is 0 and a record is there,
// or when the shard ended. When records are waiting it polls again at once;
// when caught up it waits for new records.
func (r *shardReader) gather(ctx context.Context, windowStart time.Time) ([]types.Record, error) {
	cfg := r.m.cfg
	deadline := windowStart.Add(cfg.MaximumBatchingWindow)
	// One read feeds every key lane: BatchSize matching records per lane
	// (filters run before batching), and at most the lanes' payload caps in
	// bytes.
	limit := cfg.BatchSize * cfg.ParallelizationFactor
	maxBytes := MaxPayloadBytes * cfg.ParallelizationFactor
	var batch []types.Record
	matched, bytes := 0, 0
	for attempt := 0; ; {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out, err := r.m.read.GetRecords(ctx, &kinesis.GetRecordsInput{
			ShardIterator: r.iterator,
			Limit:         aws.Int32(int32(min(limit-matched, 10000))),
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var expired *types.ExpiredIteratorException
			if errors.As(err, &expired) {
				if err := r.open(ctx, r.lastSeen); err != nil {
					return nil, err
				}
				continue
			}
			r.m.m.readErrors.WithLabelValues(cfg.ID).Inc()
			wait := backoff(attempt)
			var throttled *types.ProvisionedThroughputExceededException
			if errors.As(err, &throttled) {
				// Read limits (5 calls/s, 2 MiB/s per shard) recover within
				// a second: back off briefly, not like a failure.
				wait = min(200*time.Millisecond<<min(attempt, 3), time.Second)
				r.m.m.throttles.WithLabelValues(cfg.ID).Inc()
			} else {
				r.m.log.Warn("getting records", "shard", r.id, "err", err)
			}
			if !r.m.sleep(ctx, wait) {
				return nil, ctx.Err()
			}
			attempt++
			continue
		}
		attempt = 0
		if out.MillisBehindLatest != nil {
			r.age.read(*out.MillisBehindLatest)
		}
		if n := len(out.Records); n > 0 {
			if batch == nil {
				batch = out.Records // the usual single read: no copy
			} else {
				batch = append(batch, out.Records...)
			}
			r.lastSeen = aws.ToString(out.Records[n-1].SequenceNumber)
			for _, rec := range out.Records {
				if r.m.keep == nil || r.m.keep(rec) {
					matched++
					bytes += len(rec.Data)
				}
			}
		}
		r.iterator = out.NextShardIterator
		if r.iterator == nil {
			r.ended = true
			return batch, nil
		}
		if matched >= limit || bytes >= maxBytes || len(batch) >= 10*limit {
			return batch, nil
		}
		now := r.m.opts.Clock.Now()
		if matched > 0 && !now.Before(deadline) {
			return batch, nil
		}
		if len(out.Records) > 0 {
			continue // more may be waiting: poll again at once
		}
		if matched == 0 && len(batch) > 0 {
			// Caught up and everything read was filtered out: move the
			// checkpoint past it now rather than hold it.
			return batch, nil
		}
		if r.win != nil && len(batch) == 0 && !r.m.opts.Now().Before(r.win.end) {
			return nil, nil // the open tumbling window is over: close it
		}
		// Caught up: wait for new records, but not past the window's end
		// when records are already in hand.
		wait := r.m.opts.PollInterval
		if matched > 0 {
			wait = deadline.Sub(now)
		}
		if r.win != nil {
			wait = max(min(wait, r.win.end.Sub(r.m.opts.Now())), time.Millisecond)
		}
		if !r.waitForRecords(ctx, wait) {
			return nil, ctx.Err()
		}
	}
}

// waitForRecords blocks up to d, returning early when the reader signals new
// records. It returns false if ctx was cancelled.
func (r *shardReader) waitForRecords(ctx context.Context, d time.Duration) bool {
	w, ok := r.m.read.(Waiter)
	if !ok {
		return r.m.sleep(ctx, d)
	}
	wctx, cancel := clock.WithTimeout(ctx, r.m.opts.Clock, d)
	defer cancel()
	_ = w.WaitForRecords(wctx, aws.ToString(r.iterator))
	return ctx.Err() == nil
}

// retryable reports whether a read error is worth retrying as it is.
func retryable(err error) bool {
	var notFound *types.ResourceNotFoundException
	var invalid *types.InvalidArgumentException
	return !errors.As(err, &notFound) && !errors.As(err, &invalid)
}

// backoff is exponential from 1 s, capped at 30 s — Lambda's retry pacing.
func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt, 5)
	return min(d, 30*time.Second)
}

// sleep waits d on the mapping's clock, or until ctx is done; it reports
// whether ctx is still live.
func (m *Mapping) sleep(ctx context.Context, d time.Duration) bool {
	return clock.Sleep(ctx, m.opts.Clock, d) == nil
}

// seqLess compares Kinesis sequence numbers, which are decimal strings of
// any length: as big integers, never lexically. "" is before everything.
func seqLess(a, b string) bool {
	if a == "" || b == "" {
		return a == "" && b != ""
	}
	x, okx := new(big.Int).SetString(a, 10)
	y, oky := new(big.Int).SetString(b, 10)
	if !okx || !oky {
		return a < b
	}
	return x.Cmp(y) < 0
}
