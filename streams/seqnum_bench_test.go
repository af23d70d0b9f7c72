package streams

import (
	"testing"
)

// BenchmarkFastRead converts 1,000 stored records of one shard (arrival
// seconds changing every 100 records) to API records: GetRecords' and
// SubscribeToShard's per-record cost of sequence numbers.
func BenchmarkFastRead(b *testing.B) {
	recs := make([]shardRecord, 1000)
	for i := range recs {
		recs[i] = shardRecord{Counter: uint64(1_000_000 + i), ArrivalMillis: 1_700_000_000_000 + int64(i)*10, Key: "k", Data: []byte("d")}
	}
	k := newSeqKey(3, 7, 1_699_000_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fastRecords(k, recs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

// BenchmarkFormatSeq formats one sequence number from scratch (PutRecord,
// the first number of every read and of every PutRecords shard group).
func BenchmarkFormatSeq(b *testing.B) {
	k := newSeqKey(3, 7, 1_699_000_000_000)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = appendSeq(buf[:0], k, uint64(i), 1_700_000_000)
	}
}
