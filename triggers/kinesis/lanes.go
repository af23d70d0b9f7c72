package kinesis

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/internal/clock"
)

// round is one read of a shard split into key lanes (docs/semantics.md, "ESM
// parallelization factor"): each record goes to lane hash(partitionKey) mod
// ParallelizationFactor, so one key always lands in the same lane and keeps
// its order; lanes invoke and retry independently. Filtered-out records belong
// to no lane and count as done from the start (as on AWS, they still advance
// the checkpoint).
//
// The shard's pipeline computes the checkpoint as the highest sequence
// number S such that every record ≤ S is done in its lane. A lane's progress is
// always a prefix of its records (batches, bisect halves, partial
// responses and discards all finish in sequence order), so "done" is one
// counter per lane, and the done prefix of the round (front) only grows:
// each hand-over scans forward from it, so a round costs O(records) in
// checkpoint work however many batches it takes.
type round struct {
	shardID  string
	sourceID string
	recs     []types.Record // every record read, in sequence order
	// lane and pos give the lane of recs[i] (-1 = filtered out) and its
	// index within that lane; both nil when every record is in lane 0 at
	// its own index (one lane, no filter), the common case.
	lane  []int32
	pos   []int32
	lanes [][]types.Record

	// Guarded by the shard's pipeline.commit.
	done  []int     // per lane: how many of its records are done
	front int       // recs[:front] are done
	base  string    // the checkpoint before this round: the previous read's last record
	p     *pipeline // the shard's, which runs this round
}

func newRound(shardID, sourceID, base string, factor int, recs []types.Record, keep func(types.Record) bool) *round {
	r := &round{shardID: shardID, sourceID: sourceID, recs: recs, base: base,
		lanes: make([][]types.Record, factor), done: make([]int, factor)}
	if factor <= 1 && keep == nil {
		r.lanes[0] = recs // no copy: the lane is the read
		return r
	}
	r.lane, r.pos = make([]int32, len(recs)), make([]int32, len(recs))
	count := make([]int32, factor)
	for i := range recs {
		if keep != nil && !keep(recs[i]) {
			r.lane[i] = -1
			continue
		}
		l := laneOf(aws.ToString(recs[i].PartitionKey), factor)
		r.lane[i], r.pos[i] = int32(l), count[l]
		count[l]++
	}
	for l, n := range count {
		r.lanes[l] = make([]types.Record, 0, n)
	}
	for i := range recs {
		if l := r.lane[i]; l >= 0 {
			r.lanes[l] = append(r.lanes[l], recs[i])
		}
	}
	return r
}

// laneOf maps a partition key to its lane: FNV-1a 32 of the key, inlined
// (hash/fnv would allocate a hasher and a []byte copy per record).
func laneOf(key string, factor int) int {
	if factor <= 1 {
		return 0
	}
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(factor))
}

// advance returns how far the done prefix of the round would reach, and
// the checkpoint that is then safe, if lane l had n records done (l -1:
// the current state). Callers hold the pipeline's commit.
func (r *round) advance(l, n int) (front int, cp string) {
	i := r.front
	for ; i < len(r.recs); i++ {
		ln, p := 0, i
		if r.lane != nil {
			ln, p = int(r.lane[i]), int(r.pos[i])
		}
		if ln < 0 {
			continue
		}
		d := r.done[ln]
		if ln == l {
			d = n
		}
		if p >= d {
			break
		}
	}
	if i == 0 {
		return 0, r.base
	}
	return i, aws.ToString(r.recs[i-1].SequenceNumber)
}

// matched counts the records that passed the filters.
func (r *round) matched() int {
	n := 0
	for _, l := range r.lanes {
		n += len(l)
	}
	return n
}

// pipeline runs a shard's rounds. With one lane a round runs inline, in
// the reading goroutine: read, invoke, hand over, read again. With more,
// each lane has a worker that takes its share of each round in round
// order, so per-key order holds; a lane never waits for the other lanes to
// finish a round, only for its own earlier work.
// The reader dispatches a round as soon as it is read and may run up to
// maxRounds rounds ahead of the oldest unfinished one: a failing, retrying
// lane holds back the checkpoint (it must) but not the other lanes'
// progress, until that read-ahead is used up, which bounds memory.
//
// The checkpoint is computed across the rounds in flight, oldest first: it
// is the last record of the longest done prefix of the shard, so it never
// passes a record whose output the sink has not accepted (the checkpoint
// rule), whichever lane that record is in.
type pipeline struct {
	m        *Mapping
	shardID  string
	sourceID string
	w        *cpWriter

	// commit serialises hand-overs to the sink and checkpoint writes of
	// this shard, so the checkpoint passed along never goes backwards.
	commit sync.Mutex
	rounds []*round // in flight, oldest first
	cp     string   // the last checkpoint given to w

	// age is the shard's iterator age, told the oldest record in flight
	// at every settle.
	age *shardAge

	ctx    context.Context // cancelled when a lane gives up (shutdown, fenced)
	cancel context.CancelFunc
	slots  chan struct{} // one held per round in flight
	work   []chan laneWork
	wg     sync.WaitGroup
	failed atomic.Bool
}

// maxRounds is how many reads a shard may have in flight with more than
// one lane.
const maxRounds = 4

type laneWork struct {
	r *round
	l int
}

func (m *Mapping) newPipeline(ctx context.Context, shardID, sourceID, cp string, w *cpWriter) *pipeline {
	p := &pipeline{m: m, shardID: shardID, sourceID: sourceID, w: w, cp: cp, slots: make(chan struct{}, maxRounds)}
	p.ctx, p.cancel = context.WithCancel(ctx)
	if m.cfg.ParallelizationFactor > 1 {
		p.work = make([]chan laneWork, m.cfg.ParallelizationFactor)
		for l := range p.work {
			p.work[l] = make(chan laneWork, maxRounds) // never full: a round holds a slot
			p.wg.Add(1)
			go p.lane(l)
		}
	}
	return p
}

// lane is lane l's worker: its share of each round, in round order.
func (p *pipeline) lane(l int) {
	defer p.wg.Done()
	for w := range p.work[l] {
		if !p.failed.Load() && !p.m.runLane(p.ctx, w.r, l) {
			p.fail()
		}
	}
}

func (p *pipeline) fail() {
	p.failed.Store(true)
	p.cancel()
}

// dispatch starts round r. It waits while maxRounds rounds are in flight,
// and returns false once the shard must stop (ctx ended, a lane gave up,
// or another owner fenced this one).
func (p *pipeline) dispatch(r *round) bool {
	select {
	case p.slots <- struct{}{}:
	case <-p.ctx.Done():
		return false
	}
	p.m.m.filteredOut.WithLabelValues(p.m.cfg.ID).Add(float64(len(r.recs) - r.matched()))
	p.commit.Lock()
	p.rounds = append(p.rounds, r)
	ok := p.settle()
	p.commit.Unlock()
	if !ok {
		p.fail()
		return false
	}
	if p.work == nil {
		if !p.m.runLane(p.ctx, r, 0) {
			p.fail()
			return false
		}
		return !p.failed.Load()
	}
	for l := range r.lanes {
		if len(r.lanes[l]) > 0 {
			p.work[l] <- laneWork{r: r, l: l}
		}
	}
	return !p.failed.Load()
}

// drain waits until every round dispatched is done; false if the shard
// must stop first.
func (p *pipeline) drain() bool {
	for range maxRounds {
		select {
		case p.slots <- struct{}{}:
		case <-p.ctx.Done():
			return false
		}
	}
	for range maxRounds {
		<-p.slots
	}
	return !p.failed.Load()
}

// close stops the lane workers once they finish what they hold (a lane in
// a retry back-off stops at once: the pipeline's ctx is cancelled).
func (p *pipeline) close() {
	p.cancel()
	for _, c := range p.work {
		close(c)
	}
	p.wg.Wait()
}

// checkpoint walks the rounds in flight, oldest first, and returns the
// checkpoint that is safe if lane l of round r had n records done (r nil:
// the current state), and how far r's done prefix would then reach.
// Callers hold commit.
func (p *pipeline) checkpoint(r *round, l, n int) (cp string, front int) {
	cp = p.cp
	walking := true
	for _, x := range p.rounds {
		xl, xn := -1, 0
		if x == r {
			xl, xn = l, n
		}
		if !walking && x != r {
			continue
		}
		f, c := x.advance(xl, xn)
		if x == r {
			front = f
		}
		if walking {
			cp = c
			walking = f == len(x.recs)
		}
	}
	return cp, front
}

// settle retires the finished rounds at the head and hands the checkpoint
// to the writer; false once another owner fenced this one. Callers hold
// commit.
func (p *pipeline) settle() bool {
	cp, _ := p.checkpoint(nil, -1, 0)
	var oldest time.Time // arrival of the first record not done, if any
	for len(p.rounds) > 0 {
		r := p.rounds[0]
		if f, _ := r.advance(-1, 0); f < len(r.recs) {
			oldest = aws.ToTime(r.recs[f].ApproximateArrivalTimestamp)
			break
		}
		p.rounds = p.rounds[1:]
		last := r.recs[len(r.recs)-1]
		p.m.m.recordsIn.WithLabelValues(p.m.cfg.ID).Add(float64(len(r.recs)))
		p.m.m.recordAge.WithLabelValues(p.m.cfg.ID, r.shardID).Set(float64(p.m.opts.Now().Sub(aws.ToTime(last.ApproximateArrivalTimestamp)).Milliseconds()))
		<-p.slots
	}
	if p.age != nil {
		p.age.inFlight(oldest)
	}
	if cp == p.cp {
		return true
	}
	p.cp = cp
	return p.w.set(cp)
}

// complete marks the next n records of lane l of round r done: it hands
// out to the sink together with the checkpoint that is safe once they are
// done, then records that checkpoint. It returns false if ctx ended first
// (the records are then read again after a restart) or the shard was
// fenced.
func (m *Mapping) complete(ctx context.Context, r *round, l, n int, out []handover.Record) bool {
	p := r.p
	p.commit.Lock()
	defer p.commit.Unlock()
	cp, front := p.checkpoint(r, l, r.done[l]+n)
	drainCtx, cancel := clock.WithTimeout(context.WithoutCancel(ctx), m.opts.Clock, m.opts.DrainTimeout)
	defer cancel()
	if m.sink != nil && len(out) > 0 {
		b := handover.Batch{Source: handover.Source{ID: r.sourceID, Checkpoint: cp}, Records: out}
		for attempt := 0; ; attempt++ {
			err := m.sink.Accept(drainCtx, b)
			if err == nil {
				break
			}
			m.log.Error("sink refused batch; retrying", "shard", r.shardID, "err", err)
			if !m.sleep(drainCtx, m.backoff(attempt)) {
				return false // shutting down: not checkpointed, read again after restart
			}
		}
		m.m.recordsOut.WithLabelValues(m.cfg.ID).Add(float64(len(out)))
	}
	r.done[l] += n
	r.front = front
	return p.settle()
}

// runLane cuts a lane's records into invocation batches (BatchSize and the
// 6 MB payload cap; docs/semantics.md, "ESM batching and the payload limit")
// and runs each through the failure state machine in order.
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
// Options.RetryBaseDelay (1 s), capped at Options.RetryMaxDelay (60 s); AWS
// does not document its back-off (docs/semantics.md, "ESM retries and record
// age").
func (m *Mapping) backoff(attempt int) time.Duration {
	d := m.opts.RetryBaseDelay << min(attempt, 20)
	if d <= 0 || d > m.opts.RetryMaxDelay {
		return m.opts.RetryMaxDelay
	}
	return d
}
