package streams

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/streams/internal/shardlog"
)

// GetRecordsFast is GetRecords for an in-process consumer that reads long
// runs of records (an event-source mapping): same input, output, errors,
// limits and metrics, but the records are converted with fewer
// allocations and without a 128-bit division per sequence number (see
// fastRecords). It is a separate method rather than a change to
// GetRecords so that the API path keeps one obviously-correct conversion;
// TestGetRecordsFastMatchesGetRecords holds the two to the same output.
func (c *Client) GetRecordsFast(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	return c.e.getRecordsFast(ctx, in)
}

// getRecordsFast mirrors Engine.getRecords step for step; only the
// conversion of the stored records differs.
func (e *Engine) getRecordsFast(_ context.Context, in *kinesis.GetRecordsInput) (*kinesis.GetRecordsOutput, error) {
	if in == nil {
		in = &kinesis.GetRecordsInput{}
	}
	var v validation
	if in.ShardIterator == nil {
		v.add(nil, "shardIterator", "Member must not be null")
	} else if len(*in.ShardIterator) < 1 || len(*in.ShardIterator) > 512 {
		v.add(*in.ShardIterator, "shardIterator", "Member must have length between 1 and 512")
	}
	if in.Limit != nil && *in.Limit < 1 {
		v.add(*in.Limit, "limit", "Member must have value greater than or equal to 1")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	limit := maxGetRecords
	if in.Limit != nil {
		if *in.Limit > maxGetRecords {
			return nil, errInvalid("Limit %d is above the maximum of %d.", *in.Limit, maxGetRecords)
		}
		limit = int(*in.Limit)
	}
	it, s, sh, err := e.resolveIterator(*in.ShardIterator)
	if err != nil {
		return nil, err
	}
	now := e.now()
	if age := now.UnixMilli() - it.issued; age > iteratorTTL.Milliseconds() {
		return nil, &types.ExpiredIteratorException{Message: aws.String(fmt.Sprintf(
			"Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			time.UnixMilli(it.issued).UTC().Format(time.UnixDate), now.UTC().Format(time.UnixDate), iteratorTTL.Milliseconds()))}
	}
	e.metrics.noteShard(s.name, sh.id)
	e.metrics.getCalls.WithLabelValues(s.name, sh.id).Inc()
	if sh.lim != nil && !sh.lim.allowRead(now) {
		e.metrics.getThrottled.WithLabelValues(s.name, sh.id).Inc()
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String(e.throttledMsg(s, sh))}
	}
	recs, next, err := sh.log.Read(it.pos, s.trimHorizon(now), limit, maxGetBytes, nil)
	if err != nil {
		return nil, errInternal(fmt.Errorf("read shard %s: %w", sh.id, err))
	}
	apiRecs, bytes := fastRecords(sh.seqHi, recs)
	out := &kinesis.GetRecordsOutput{Records: apiRecs}
	if sh.lim != nil {
		sh.lim.chargeRead(bytes)
	}
	e.metrics.getRecords.WithLabelValues(s.name, sh.id).Add(float64(len(recs)))
	tip, _ := sh.log.Tip()
	s.mu.RLock()
	closed := sh.closed
	var children []types.ChildShard
	if closed && next >= tip {
		children = s.childrenLocked(sh)
	}
	s.mu.RUnlock()
	behind := int64(0)
	if next < tip && len(recs) > 0 {
		behind = max(now.UnixMilli()-recs[len(recs)-1].ArrivalMillis, 0)
	}
	out.MillisBehindLatest = aws.Int64(behind)
	if closed && next >= tip {
		out.ChildShards = children
		if out.ChildShards == nil {
			out.ChildShards = []types.ChildShard{}
		}
	} else {
		out.NextShardIterator = aws.String(e.encodeIterator(iterator{inc: it.inc, shard: it.shard, pos: next, issued: now.UnixMilli()}))
	}
	return out, nil
}

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
