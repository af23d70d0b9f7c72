package streams

import "fmt"

// Sequence numbers are the 128-bit value
//
//	hi = seqTag | incarnation<<32 | shardIndex,  lo = per-shard counter
//
// rendered in decimal. The counter strictly increases per shard, so numbers
// order correctly within a shard; the high word names the stream incarnation
// and shard, so GetShardIterator can reject a number from another shard or
// from a deleted stream of the same name (spec A.4). Counter 0 is never a
// record: it is the shard's StartingSequenceNumber, below every record.
const seqTag = uint64(1) << 62

// endCounter is the counter of a closed shard's EndingSequenceNumber; like
// kinesalite and kinesis-mock we use the largest signed 64-bit value.
const endCounter = uint64(1)<<63 - 1

func seqHigh(incarnation, shardIndex uint32) uint64 {
	return seqTag | uint64(incarnation)<<32 | uint64(shardIndex)
}

func appendSeq(dst []byte, hi, counter uint64) []byte {
	return u128{hi, counter}.appendDecimal(dst)
}

func formatSeq(hi, counter uint64) string { return string(appendSeq(nil, hi, counter)) }

// maxSeqDigits is the length of the largest u128 in decimal.
const maxSeqDigits = 39

// incDecimal adds one to the decimal number in b, in place. It returns
// false, leaving b unspecified, if the result needs another digit.
func incDecimal(b []byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != '9' {
			b[i]++
			return true
		}
		b[i] = '0'
	}
	return false
}

// parseSeq splits a sequence number into its incarnation, shard index and
// counter.
func parseSeq(s string) (inc, shard uint32, counter uint64, err error) {
	v, err := parseU128(s)
	if err != nil || v.hi&^(uint64(1)<<62-1) != seqTag {
		return 0, 0, 0, fmt.Errorf("sequence number %q was not issued by this service", s)
	}
	return uint32(v.hi >> 32 & (1<<30 - 1)), uint32(v.hi), v.lo, nil
}
