package kinesis

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/sinks"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
)

// shardReader is one shard's read position: the iterator and the last
// sequence number seen, from which an expired iterator is renewed.
type shardReader struct {
	m        *Mapping
	shard    types.Shard
	id       string
	iterator *string
	lastSeen string // last sequence number read (not necessarily handled)
	ended    bool   // NextShardIterator came back null: closed and drained
}

// runShard reads one shard until ctx is cancelled or the shard ends.
func (m *Mapping) runShard(ctx context.Context, shard types.Shard) {
	id := aws.ToString(shard.ShardId)
	log := m.log.With("shard", id)
	ended := false
	defer func() { m.shardDone(id, ended) }()

	sourceID := m.cfg.ID + "/" + id
	pos, err := m.retryGet(ctx, id)
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
	r := &shardReader{m: m, shard: shard, id: id, lastSeen: pos.SequenceNumber}
	if err := r.open(ctx, pos.SequenceNumber); err != nil {
		if ctx.Err() == nil {
			log.Error("opening shard", "err", err)
		}
		return
	}
	log.Debug("reading shard", "from", pos.SequenceNumber)

	windowStart := time.Now()
	for {
		batch, err := r.gather(ctx, windowStart)
		if err != nil {
			return // ctx cancelled; records gathered but not invoked are read again later
		}
		if len(batch) > 0 {
			if !m.process(ctx, id, sourceID, batch) {
				return
			}
		}
		windowStart = time.Now() // Kinesis: the next window starts when the invocation completes
		if r.ended {
			if err := m.store.Put(context.WithoutCancel(ctx), m.cfg.ID, id, checkpoint.Position{SequenceNumber: r.lastSeen, ShardEnd: true}); err != nil {
				log.Error("recording shard end", "err", err)
				return
			}
			ended = true
			log.Info("shard ended")
			return
		}
	}
}

func (m *Mapping) retryGet(ctx context.Context, shardID string) (checkpoint.Position, error) {
	for attempt := 0; ; attempt++ {
		pos, err := m.store.Get(ctx, m.cfg.ID, shardID)
		if err == nil {
			return pos, nil
		}
		m.log.Error("reading checkpoint", "shard", shardID, "err", err)
		if !sleep(ctx, backoff(attempt)) {
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
		if !sleep(ctx, backoff(attempt)) {
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
	var batch []types.Record
	for attempt := 0; ; {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out, err := r.m.read.GetRecords(ctx, &kinesis.GetRecordsInput{
			ShardIterator: r.iterator,
			Limit:         aws.Int32(int32(cfg.BatchSize - len(batch))),
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
			if !sleep(ctx, wait) {
				return nil, ctx.Err()
			}
			attempt++
			continue
		}
		attempt = 0
		if out.MillisBehindLatest != nil {
			r.m.m.iteratorAge.WithLabelValues(cfg.ID, r.id).Set(float64(*out.MillisBehindLatest))
		}
		if n := len(out.Records); n > 0 {
			batch = append(batch, out.Records...)
			r.lastSeen = aws.ToString(out.Records[n-1].SequenceNumber)
		}
		r.iterator = out.NextShardIterator
		if r.iterator == nil {
			r.ended = true
			return batch, nil
		}
		if len(batch) >= cfg.BatchSize {
			return batch, nil
		}
		now := time.Now()
		if len(batch) > 0 && !now.Before(deadline) {
			return batch, nil
		}
		if len(out.Records) > 0 {
			continue // more may be waiting: poll again at once
		}
		// Caught up: wait for new records, but not past the window's end
		// when records are already in hand.
		wait := r.m.opts.PollInterval
		if len(batch) > 0 {
			wait = deadline.Sub(now)
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
		return sleep(ctx, d)
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_ = w.WaitForRecords(wctx, aws.ToString(r.iterator))
	return ctx.Err() == nil
}

// process invokes the function with a batch until it succeeds, hands the
// output to the sink and moves the checkpoint. It returns false if ctx was
// cancelled before the batch completed (it will be read again).
//
// Once the function has been invoked, the batch is finished even if ctx is
// cancelled meanwhile: shutdown drains in-flight batches rather than
// throwing their work away.
func (m *Mapping) process(ctx context.Context, shardID, sourceID string, batch []types.Record) bool {
	payload, err := json.Marshal(m.batchEvent(shardID, batch))
	if err != nil {
		m.log.Error("encoding event", "err", err)
		return false
	}
	lastSeq := aws.ToString(batch[len(batch)-1].SequenceNumber)
	m.m.batchSize.WithLabelValues(m.cfg.ID).Observe(float64(len(batch)))

	var body []byte
	for attempt := 0; ; attempt++ {
		if attempt > 0 && !sleep(ctx, backoff(attempt-1)) {
			return false
		}
		if ctx.Err() != nil {
			return false
		}
		m.m.invocations.WithLabelValues(m.cfg.ID, m.cfg.FunctionName).Inc()
		body, err = m.fn.Invoke(context.WithoutCancel(ctx), payload)
		if err == nil {
			break
		}
		m.m.invokeErrors.WithLabelValues(m.cfg.ID, m.cfg.FunctionName).Inc()
		m.log.Warn("function error; retrying batch", "shard", shardID, "records", len(batch), "attempt", attempt+1, "err", err)
	}

	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.DrainTimeout)
	defer cancel()
	resp, _ := decodeResponse(body)
	if m.sink != nil && len(resp.Records) > 0 {
		out := sinks.Batch{Source: sinks.Source{ID: sourceID, Checkpoint: lastSeq}, Records: outputRecords(resp, batch)}
		for attempt := 0; ; attempt++ {
			err := m.sink.Accept(drainCtx, out)
			if err == nil {
				break
			}
			m.log.Error("sink refused batch; retrying", "shard", shardID, "err", err)
			if !sleep(drainCtx, backoff(attempt)) {
				return false // shutting down: not checkpointed, read again after restart
			}
		}
		m.m.recordsOut.WithLabelValues(m.cfg.ID).Add(float64(len(out.Records)))
	}
	for attempt := 0; ; attempt++ {
		err := m.store.Put(drainCtx, m.cfg.ID, shardID, checkpoint.Position{SequenceNumber: lastSeq})
		if err == nil {
			break
		}
		m.log.Error("writing checkpoint; retrying", "shard", shardID, "err", err)
		if !sleep(drainCtx, backoff(attempt)) {
			return false
		}
	}
	m.m.recordsIn.WithLabelValues(m.cfg.ID).Add(float64(len(batch)))
	return true
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

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
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
