package streams

import (
	"sync"
	"time"
)

// Provisioned per-shard limits (docs/semantics.md, "Per-shard throughput
// limits").
const (
	writeRecordsPerSec = 1000
	writeBytesPerSec   = 1 << 20
	readCallsPerSec    = 5
	readBytesPerSec    = 2 << 20
)

// bucket is a token bucket holding at most one second of rate.
type bucket struct {
	rate   float64
	tokens float64
}

func (b *bucket) refill(elapsed float64) {
	b.tokens = min(b.rate, b.tokens+elapsed*b.rate)
}

// limiter enforces one shard's write and read limits.
type limiter struct {
	mu           sync.Mutex
	last         time.Time
	wRecs, wByte bucket
	rCall, rByte bucket
}

func newLimiter(now time.Time) *limiter {
	return &limiter{
		last:  now,
		wRecs: bucket{writeRecordsPerSec, writeRecordsPerSec},
		wByte: bucket{writeBytesPerSec, writeBytesPerSec},
		rCall: bucket{readCallsPerSec, readCallsPerSec},
		rByte: bucket{readBytesPerSec, readBytesPerSec},
	}
}

func (l *limiter) advance(now time.Time) {
	if el := now.Sub(l.last).Seconds(); el > 0 {
		l.wRecs.refill(el)
		l.wByte.refill(el)
		l.rCall.refill(el)
		l.rByte.refill(el)
		l.last = now
	}
}

// allowWrite takes capacity for one record of size bytes (key + data), or
// reports that the shard is over its write limit.
func (l *limiter) allowWrite(now time.Time, size int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.advance(now)
	if l.wRecs.tokens < 1 || l.wByte.tokens < float64(size) {
		return false
	}
	l.wRecs.tokens--
	l.wByte.tokens -= float64(size)
	return true
}

// allowRead takes one GetRecords call. Reads are charged after the fact
// (chargeRead), so a large read throttles the calls that follow, as on AWS.
func (l *limiter) allowRead(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.advance(now)
	if l.rCall.tokens < 1 || l.rByte.tokens <= 0 {
		return false
	}
	l.rCall.tokens--
	return true
}

func (l *limiter) chargeRead(bytes int) {
	l.mu.Lock()
	l.rByte.tokens -= float64(bytes)
	l.mu.Unlock()
}
