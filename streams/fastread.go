package streams

import (
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/streams/internal/shardlog"
)

// fastRecords converts stored records to the API's, returning also their
// bytes of key and data. A shard's counters mostly go up by one, so each
// sequence number's decimal form is the previous one plus a small
// difference, added digit by digit (decimalAdd) instead of formatting the
// 128-bit value from scratch; all sequence numbers share one string, and
// the pointers one slab each: four allocations per read, none per record
// (the keys are already strings).
func fastRecords(hi uint64, recs []shardlog.Record) ([]types.Record, int) {
	if len(recs) == 0 {
		return []types.Record{}, 0
	}
	first := appendSeq(nil, hi, recs[0].Counter)
	// Every number of a read has the first's length or a few digits more
	// (a carry past a power of ten): reserve for that.
	buf := make([]byte, 0, len(recs)*(len(first)+1))
	ends := make([]int32, len(recs))
	buf = append(buf, first...)
	ends[0] = int32(len(buf))
	bytes := len(recs[0].Data) + len(recs[0].Key)
	prevStart := 0
	for i := 1; i < len(recs); i++ {
		bytes += len(recs[i].Data) + len(recs[i].Key)
		start := len(buf)
		if d := recs[i].Counter - recs[i-1].Counter; recs[i].Counter > recs[i-1].Counter {
			buf = decimalAdd(buf, prevStart, start, d)
		} else {
			buf = appendSeq(buf, hi, recs[i].Counter) // never in a sane log; stay correct anyway
		}
		ends[i] = int32(len(buf))
		prevStart = start
	}
	// buf is not touched again, so the strings can share its memory.
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	out := make([]types.Record, len(recs))
	strs := make([]string, 2*len(recs))
	times := make([]time.Time, len(recs))
	off := 0
	for i := range recs {
		r := &recs[i]
		strs[2*i] = all[off:ends[i]]
		off = int(ends[i])
		strs[2*i+1] = r.Key
		times[i] = time.UnixMilli(r.ArrivalMillis)
		out[i] = types.Record{
			Data:                        r.Data,
			PartitionKey:                &strs[2*i+1],
			SequenceNumber:              &strs[2*i],
			ApproximateArrivalTimestamp: &times[i],
		}
	}
	return out, bytes
}

// decimalAdd appends to buf the decimal number buf[from:to] plus d.
func decimalAdd(buf []byte, from, to int, d uint64) []byte {
	start := len(buf)
	buf = append(buf, buf[from:to]...)
	carry := d
	for i := len(buf) - 1; i >= start && carry > 0; i-- {
		x := uint64(buf[i]-'0') + carry%10
		carry /= 10
		if x >= 10 {
			x -= 10
			carry++
		}
		buf[i] = byte('0' + x)
	}
	if carry == 0 {
		return buf
	}
	// The sum has more digits than the previous number: prepend them.
	var head [20]byte
	h := len(head)
	for carry > 0 {
		h--
		head[h] = byte('0' + carry%10)
		carry /= 10
	}
	n := len(head) - h
	buf = append(buf, head[:n]...) // grow by n
	copy(buf[start+n:], buf[start:len(buf)-n])
	copy(buf[start:], head[h:])
	return buf
}
