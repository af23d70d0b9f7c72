package streams

import (
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// fastRecords converts stored records to the API's, returning also their
// bytes of key and data. Consecutive records of a shard mostly differ by
// one counter and no arrival second, so each sequence number's decimal
// form is the previous one plus a short decimal difference (seqStep),
// added digit by digit instead of converting the 188-bit value from
// scratch; all sequence numbers share one string, and the pointers one
// slab each: four allocations per read, none per record (the keys are
// already strings).
func fastRecords(k seqKey, recs []shardRecord) ([]types.Record, int) {
	if len(recs) == 0 {
		return []types.Record{}, 0
	}
	buf := make([]byte, 0, len(recs)*(seqDigits+1))
	ends := make([]int32, len(recs))
	buf = appendSeq(buf, k, recs[0].Counter, recs[0].ArrivalMillis/1000)
	ends[0] = int32(len(buf))
	bytes := len(recs[0].Data) + len(recs[0].Key)
	prevStart := 0
	var step seqStep
	for i := 1; i < len(recs); i++ {
		bytes += len(recs[i].Data) + len(recs[i].Key)
		start := len(buf)
		dc := recs[i].Counter - recs[i-1].Counter
		ds := recs[i].ArrivalMillis/1000 - recs[i-1].ArrivalMillis/1000
		if recs[i].Counter > recs[i-1].Counter && canStep(dc, ds) {
			if step.dc != dc || step.ds != ds {
				step.set(dc, ds)
			}
			buf = step.appendNext(buf, prevStart, start)
		} else {
			// A clock that stepped back, or a huge gap: convert.
			buf = appendSeq(buf, k, recs[i].Counter, recs[i].ArrivalMillis/1000)
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
