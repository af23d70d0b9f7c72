package kinesis

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// iteratorAges is sluice_esm_iterator_age_milliseconds (status's
// iteratorAgeMs), computed when it is scraped. Per shard it is how old the
// oldest record the function has not finished with is: the larger of
//
//   - the age of the oldest record read but not yet done (handed to the
//     sink, or discarded to the on-failure destination), and
//   - how far behind the tip the reader was at its last read
//     (MillisBehindLatest), plus the time since that read: the records it
//     has not read yet keep ageing while it does not read.
//
// It used to be MillisBehindLatest of the last read alone. A shard whose
// function was stuck (an init that never finished, retried batch after
// batch) neither reads nor finishes anything, so the gauge kept the 0 of
// the read that fetched the stuck batch: 50 s of stall read as "caught up".
type iteratorAges struct {
	desc *prometheus.Desc

	mu     sync.Mutex
	shards map[[2]string]*shardAge // by mapping, shard
}

func newIteratorAges() *iteratorAges {
	return &iteratorAges{
		desc: prometheus.NewDesc("sluice_esm_iterator_age_milliseconds",
			"Age of the shard's oldest record not yet done: read and in flight (invoked, retried), or not read yet (MillisBehindLatest of the last read, growing since).",
			[]string{"mapping", "shard"}, nil),
		shards: map[[2]string]*shardAge{},
	}
}

// shard returns the age of one shard of a mapping, created at 0.
func (a *iteratorAges) shard(mapping, shard string, now func() time.Time) *shardAge {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := [2]string{mapping, shard}
	s := a.shards[k]
	if s == nil {
		s = &shardAge{}
		a.shards[k] = s
	}
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
	return s
}

// Describe implements prometheus.Collector.
func (a *iteratorAges) Describe(ch chan<- *prometheus.Desc) { ch <- a.desc }

// Collect implements prometheus.Collector.
func (a *iteratorAges) Collect(ch chan<- prometheus.Metric) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, s := range a.shards {
		ch <- prometheus.MustNewConstMetric(a.desc, prometheus.GaugeValue, s.millis(), k[0], k[1])
	}
}

// shardAge is what one shard's iterator age is computed from.
type shardAge struct {
	mu     sync.Mutex
	now    func() time.Time
	behind time.Duration // MillisBehindLatest of the last read
	readAt time.Time
	oldest time.Time // arrival of the oldest record in flight; zero: none
}

// read records a read's MillisBehindLatest.
func (s *shardAge) read(behindMs int64) {
	s.mu.Lock()
	s.behind, s.readAt = time.Duration(behindMs)*time.Millisecond, s.now()
	s.mu.Unlock()
}

// inFlight records the arrival time of the oldest record read and not yet
// done; the zero time says none is.
func (s *shardAge) inFlight(oldest time.Time) {
	s.mu.Lock()
	s.oldest = oldest
	s.mu.Unlock()
}

// reset is a shard that stopped being read here: nothing of it is pending
// on this instance any more.
func (s *shardAge) reset() {
	s.mu.Lock()
	s.behind, s.oldest = 0, time.Time{}
	s.mu.Unlock()
}

// millis is the shard's iterator age now, in milliseconds.
func (s *shardAge) millis() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.now == nil {
		return 0
	}
	now := s.now()
	var age time.Duration
	if s.behind > 0 {
		age = s.behind + now.Sub(s.readAt)
	}
	if !s.oldest.IsZero() {
		age = max(age, now.Sub(s.oldest))
	}
	return float64(max(age, 0).Milliseconds())
}
