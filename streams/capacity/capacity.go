// Package capacity sizes a Kinesis stream: how many shards a load needs and
// which per-shard limit decides it (docs/semantics.md, "Per-shard throughput
// limits" and "Enhanced fan-out"). It is pure arithmetic, shared by `sluice
// streams plan` and the hot-shard advice of the embedded stream.
//
// Per shard, writes are capped at 1 MiB/s and 1,000 records/s. Polling
// consumers (GetRecords) share 2 MiB/s and 5 calls/s per shard; each
// enhanced fan-out consumer gets its own 2 MiB/s per shard, up to 20
// consumers per stream.
package capacity

import (
	"errors"
	"fmt"
	"math"
)

// Per-shard limits (docs/semantics.md, "Per-shard throughput limits") and the
// enhanced fan-out consumer cap (docs/semantics.md, "Enhanced fan-out").
const (
	WriteMiBPerShard     = 1.0
	WriteRecordsPerShard = 1000.0
	ReadMiBPerShard      = 2.0
	ReadCallsPerShard    = 5
	MaxEFOConsumers      = 20
)

// Load is the expected traffic of a stream. MB means MiB, as in AWS's
// limit tables.
type Load struct {
	WriteMBPerSec  float64
	RecordsPerSec  float64
	Consumers      int
	EnhancedFanOut bool
}

// Limit names what decides a shard count.
type Limit string

const (
	LimitWriteBytes   Limit = "write throughput (1 MiB/s per shard)"
	LimitWriteRecords Limit = "write records (1,000 records/s per shard)"
	LimitReadShared   Limit = "shared read throughput (2 MiB/s per shard, split between polling consumers)"
	LimitMinimum      Limit = "minimum (one shard)"
)

// Need is the shard count one limit alone requires.
type Need struct {
	Limit  Limit
	Shards int
}

// Result is a sizing: the shards needed, the limit that binds (the largest
// need; on a tie, the first in Needs), every need, and warnings about what
// more shards cannot fix.
type Result struct {
	Shards   int
	Binding  Limit
	Needs    []Need
	Warnings []string
}

// Plan sizes a stream for l. It fails on negative or non-finite inputs and
// on more enhanced fan-out consumers than a stream may register.
func Plan(l Load) (Result, error) {
	for _, v := range []float64{l.WriteMBPerSec, l.RecordsPerSec, float64(l.Consumers)} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return Result{}, errors.New("capacity: loads must be finite and not negative")
		}
	}
	if l.EnhancedFanOut && l.Consumers > MaxEFOConsumers {
		return Result{}, fmt.Errorf("capacity: %d enhanced fan-out consumers: a stream registers at most %d", l.Consumers, MaxEFOConsumers)
	}
	needs := []Need{
		{LimitWriteBytes, ceil(l.WriteMBPerSec / WriteMiBPerShard)},
		{LimitWriteRecords, ceil(l.RecordsPerSec / WriteRecordsPerShard)},
	}
	var warn []string
	if !l.EnhancedFanOut && l.Consumers > 0 {
		// Every polling consumer reads all the data, from the same 2 MiB/s.
		needs = append(needs, Need{LimitReadShared, ceil(l.WriteMBPerSec * float64(l.Consumers) / ReadMiBPerShard)})
		if l.Consumers > ReadCallsPerShard {
			warn = append(warn, fmt.Sprintf("%d polling consumers exceed %d GetRecords calls/s per shard even at one call per second each; more shards do not help: use enhanced fan-out", l.Consumers, ReadCallsPerShard))
		}
	}
	// EFO: each consumer's own 2 MiB/s per shard always exceeds the 1 MiB/s
	// a shard can be written at, so reads never bind.
	needs = append(needs, Need{LimitMinimum, 1})
	r := Result{Needs: needs, Warnings: warn}
	for _, n := range needs {
		if n.Shards > r.Shards {
			r.Shards, r.Binding = n.Shards, n.Limit
		}
	}
	return r, nil
}

// ceil rounds up, treating values within 1e-9 of an integer as that
// integer so 3.0000000001 MiB/s from float arithmetic needs 3 shards.
func ceil(x float64) int {
	return int(math.Ceil(x - 1e-9))
}

// Utilisation is a shard's write load as a fraction of its limits: the
// larger of bytes against 1 MiB/s and records against 1,000/s.
func Utilisation(writeBytesPerSec, writeRecordsPerSec float64) float64 {
	return max(writeBytesPerSec/(WriteMiBPerShard*(1<<20)), writeRecordsPerSec/WriteRecordsPerShard)
}
