package kinesis

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/sinks"
)

// round is one read of a shard split into key lanes (spec §1.5): each
// record goes to lane hash(partitionKey) mod ParallelizationFactor, so one
// key always lands in the same lane and keeps its order; lanes invoke and
// retry independently. Filtered-out records belong to no lane and count as
// done from the start (§1.12: they still advance the checkpoint).
//
// The tracker computes the shard checkpoint as the highest sequence number
// S such that every record ≤ S is done in its lane. A lane's progress is
// always a prefix of its records (batches, bisect halves, partial
// responses and discards all finish in sequence order), so "done" is one
// counter per lane.
type round struct {
	shardID  string
	sourceID string
	recs     []types.Record // every record read, in sequence order
	lane     []int          // lane of recs[i]; -1 = filtered out
	pos      []int          // index of recs[i] within its lane
	lanes    [][]types.Record

	// commit serialises hand-overs to the sink and checkpoint writes of
	// this shard, so the checkpoint passed along never goes backwards.
	commit sync.Mutex
	done   []int  // per lane: how many of its records are done
	base   string // the checkpoint before this round
	cp     string // the last checkpoint written
	w      *cpWriter
}

func newRound(shardID, sourceID, base string, factor int, recs []types.Record, keep func(types.Record) bool) *round {
	r := &round{shardID: shardID, sourceID: sourceID, recs: recs, base: base, cp: base,
		lane: make([]int, len(recs)), pos: make([]int, len(recs)),
		lanes: make([][]types.Record, factor), done: make([]int, factor)}
	for i, rec := range recs {
		if keep != nil && !keep(rec) {
			r.lane[i] = -1
			continue
		}
		l := laneOf(aws.ToString(rec.PartitionKey), factor)
		r.lane[i], r.pos[i] = l, len(r.lanes[l])
		r.lanes[l] = append(r.lanes[l], rec)
	}
	return r
}

// laneOf maps a partition key to its lane.
func laneOf(key string, factor int) int {
	if factor <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(factor))
}

// safe returns the checkpoint if lane l had n records done (callers hold
// commit).
func (r *round) safe(l, n int) string {
	cp := r.base
	for i, rec := range r.recs {
		ln := r.lane[i]
		if ln >= 0 {
			d := r.done[ln]
			if ln == l {
				d = n
			}
			if r.pos[i] >= d {
				break
			}
		}
		cp = aws.ToString(rec.SequenceNumber)
	}
	return cp
}

// matched counts the records that passed the filters.
func (r *round) matched() int {
	n := 0
	for _, l := range r.lanes {
		n += len(l)
	}
	return n
}

// complete marks the next n records of lane l done: it hands out to the
// sink together with the checkpoint that is safe once they are done, then
// records that checkpoint. It returns false if ctx ended first (the records
// are then read again after a restart).
func (m *Mapping) complete(ctx context.Context, r *round, l, n int, out []sinks.Record) bool {
	r.commit.Lock()
	defer r.commit.Unlock()
	cp := r.safe(l, r.done[l]+n)
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.DrainTimeout)
	defer cancel()
	if m.sink != nil && len(out) > 0 {
		b := sinks.Batch{Source: sinks.Source{ID: r.sourceID, Checkpoint: cp}, Records: out}
		for attempt := 0; ; attempt++ {
			err := m.sink.Accept(drainCtx, b)
			if err == nil {
				break
			}
			m.log.Error("sink refused batch; retrying", "shard", r.shardID, "err", err)
			if !sleep(drainCtx, m.backoff(attempt)) {
				return false // shutting down: not checkpointed, read again after restart
			}
		}
		m.m.recordsOut.WithLabelValues(m.cfg.ID).Add(float64(len(out)))
	}
	r.done[l] += n
	return m.putCheckpoint(drainCtx, r, cp)
}

// putCheckpoint records cp as the shard's checkpoint (callers hold
// commit); the shard's writer makes it durable in the background. It
// reports false once another owner fenced this one.
func (m *Mapping) putCheckpoint(_ context.Context, r *round, cp string) bool {
	if cp == r.cp {
		return true
	}
	r.cp = cp
	return r.w.set(cp)
}

// runRound processes every lane of a round and writes the final
// checkpoint. It returns false if ctx ended before the round was done.
func (m *Mapping) runRound(ctx context.Context, r *round) bool {
	if len(r.recs) == 0 {
		return true
	}
	m.m.filteredOut.WithLabelValues(m.cfg.ID).Add(float64(len(r.recs) - r.matched()))
	ok := true
	if len(r.lanes) == 1 {
		ok = m.runLane(ctx, r, 0)
	} else {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for l := range r.lanes {
			if len(r.lanes[l]) == 0 {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if !m.runLane(ctx, r, l) {
					mu.Lock()
					ok = false
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	if !ok {
		return false
	}
	r.commit.Lock()
	defer r.commit.Unlock()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.DrainTimeout)
	defer cancel()
	if !m.putCheckpoint(dctx, r, r.safe(-1, 0)) { // trailing filtered-out records
		return false
	}
	last := r.recs[len(r.recs)-1]
	m.m.recordsIn.WithLabelValues(m.cfg.ID).Add(float64(len(r.recs)))
	m.m.recordAge.WithLabelValues(m.cfg.ID, r.shardID).Set(float64(m.opts.Now().Sub(aws.ToTime(last.ApproximateArrivalTimestamp)).Milliseconds()))
	return true
}

// runLane cuts a lane's records into invocation batches (BatchSize and the
// 6 MB payload cap, spec §1.3) and runs each through the failure state
// machine in order.
func (m *Mapping) runLane(ctx context.Context, r *round, l int) bool {
	recs := r.lanes[l]
	for len(recs) > 0 {
		n := m.batchLen(r.shardID, recs)
		if !m.runBatch(ctx, r, l, recs[:n], 0) {
			return false
		}
		recs = recs[n:]
	}
	return true
}

// backoff is the retry pause after the attempt-th failure: exponential from
// Options.RetryBaseDelay (1 s), capped at Options.RetryMaxDelay (60 s)
// (spec §1.7 rule 5).
func (m *Mapping) backoff(attempt int) time.Duration {
	d := m.opts.RetryBaseDelay << min(attempt, 20)
	if d <= 0 || d > m.opts.RetryMaxDelay {
		return m.opts.RetryMaxDelay
	}
	return d
}
