package firehose

import (
	"sort"
	"sync"
	"time"
)

// ref is a buffered record: where its bytes are in the write-ahead log.
// Buffers hold refs, not bytes, so memory per partition is ~56 bytes per
// record whatever the record size; bytes are read back at flush.
type ref struct {
	seg      uint64
	off      int64
	n        uint32
	seq      uint64
	arrival  int64 // unix nanoseconds
	accepted int64 // unix nanoseconds
	rt       *route
}

// buffer is one partition's records accepted and not yet in a flush, in
// sequence order.
type buffer struct {
	part    string
	rt      *route
	refs    []ref
	bytes   int64
	firstAt time.Time // when its first record was accepted: the interval counts from here
}

// bufferSet holds the buffers, one per partition, and counts the active
// partitions (a buffer, or objects not yet delivered) for
// MaxActivePartitions.
//
// Its lock is held from the moment a batch is logged until its records are
// in their buffers, and while a buffer becomes a flush, so a buffer's
// records stay in sequence order and a flush's intent names exactly the
// records it takes. Holding it, the stream takes the journal's lock (to log
// a flush intent) or the object queue's (to queue the flush); neither of
// those is ever held while this one is taken.
type bufferSet struct {
	size      int64         // BufferSize: a partition flushes when its bytes reach it
	interval  time.Duration // BufferInterval, capped by Options.MaxBufferInterval
	delimiter bool          // AppendDelimiter: a data record takes one byte more
	maxActive int           // MaxActivePartitions
	m         *metrics

	mu      sync.Mutex
	closed  bool // Close or abandon: no more batches
	buffers map[string]*buffer
	active  map[string]int // partition → its buffer (0 or 1) plus its undelivered objects
	records int            // buffered, all partitions
	bytes   int64
}

func newBufferSet(cfg Config, interval time.Duration, m *metrics) *bufferSet {
	return &bufferSet{size: cfg.BufferSize, interval: interval, delimiter: cfg.AppendDelimiter,
		maxActive: cfg.MaxActivePartitions, m: m, buffers: map[string]*buffer{}, active: map[string]int{}}
}

// capPartitionsLocked applies MaxActivePartitions to a batch's routes
// (docs/semantics.md, "Dynamic partitioning"): a record that would open a
// partition beyond the cap goes to the error output instead.
func (s *bufferSet) capPartitionsLocked(routes []*route) {
	opened := map[string]bool{}
	var capRoute *route
	for i, rt := range routes {
		if rt.ErrType != "" || s.active[rt.part] > 0 || opened[rt.part] {
			continue
		}
		if len(s.active)+len(opened) >= s.maxActive {
			if capRoute == nil {
				capRoute = activePartitionExceeded(s.maxActive)
			}
			routes[i] = capRoute
			continue
		}
		opened[rt.part] = true
	}
}

// addLocked puts a record in its partition's buffer. It reports whether
// it started a new buffer.
func (s *bufferSet) addLocked(r ref, now time.Time) (created bool) {
	buf := s.buffers[r.rt.part]
	if buf == nil {
		created = true
		buf = &buffer{part: r.rt.part, rt: r.rt, firstAt: now}
		s.buffers[r.rt.part] = buf
		s.active[r.rt.part]++
	}
	buf.refs = append(buf.refs, r)
	sz := int64(r.n)
	if s.delimiter && r.rt.ErrType == "" {
		sz++
	}
	buf.bytes += sz
	s.records++
	s.bytes += sz
	return created
}

// fullLocked reports whether part's buffer has reached BufferSize.
func (s *bufferSet) fullLocked(part string) bool {
	buf := s.buffers[part]
	return buf != nil && buf.bytes >= s.size
}

// dueLocked reports whether b's BufferInterval has elapsed at now.
func (s *bufferSet) dueLocked(b *buffer, now time.Time) bool {
	return !now.Before(b.firstAt.Add(s.interval))
}

// pickLocked returns the partitions whose buffers pick selects, sorted.
func (s *bufferSet) pickLocked(pick func(*buffer) bool) []string {
	var parts []string
	for _, p := range sortedKeys(s.buffers) {
		if pick(s.buffers[p]) {
			parts = append(parts, p)
		}
	}
	return parts
}

// removeLocked takes part's buffer out of the set, for a flush; the
// partition stays active until its object is delivered (release).
func (s *bufferSet) removeLocked(part string) {
	buf := s.buffers[part]
	delete(s.buffers, part)
	s.records -= len(buf.refs)
	s.bytes -= buf.bytes
}

// release ends one of part's objects: the partition is no longer active
// once none is left and nothing is buffered.
func (s *bufferSet) release(part string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active[part]--; s.active[part] <= 0 {
		delete(s.active, part)
	}
	s.gaugesLocked()
}

// nextDeadline is when the oldest buffer's interval elapses (zero: no
// buffer).
func (s *bufferSet) nextDeadline() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, b := range s.buffers {
		if at := b.firstAt.Add(s.interval); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

func (s *bufferSet) gaugesLocked() {
	s.m.bufferedRecords.Set(float64(s.records))
	s.m.bufferedBytes.Set(float64(s.bytes))
	s.m.activePartitions.Set(float64(len(s.active)))
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
