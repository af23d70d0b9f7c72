// Package feed writes records to a Kinesis stream as fast as it can (or at
// a steady rate) with the aws-sdk-go-v2 client: several concurrent
// PutRecords calls of up to 500 records, failed entries retried until every
// record is acknowledged. It remembers, per shard, the highest sequence
// number the stream acknowledged, so the benchmark knows where the stream
// ends without reading it back.
package feed

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Putter is the part of the Kinesis client the feeder uses.
type Putter interface {
	PutRecords(context.Context, *kinesis.PutRecordsInput, ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Record is one record to put.
type Record struct {
	Key  string
	Data []byte
}

// Result is what a feed did.
type Result struct {
	Acked   int               `json:"acked"`
	Calls   int               `json:"calls"`
	Retries int               `json:"retried_records"`
	Seconds float64           `json:"seconds"`
	Last    map[string]string `json:"last_sequence_numbers"` // shard → highest acknowledged sequence number
}

// Feeder puts batches and tracks the stream's end.
type Feeder struct {
	API    Putter
	Stream string

	mu  sync.Mutex
	res Result
}

// PutBatch puts recs (at most 500), retrying failed entries with a short
// backoff until all are acknowledged or ctx ends.
func (f *Feeder) PutBatch(ctx context.Context, recs []Record) error {
	entries := make([]types.PutRecordsRequestEntry, len(recs))
	for i, r := range recs {
		entries[i] = types.PutRecordsRequestEntry{Data: r.Data, PartitionKey: aws.String(r.Key)}
	}
	backoff := 10 * time.Millisecond
	calls, retried := 0, 0
	last := map[string]string{}
	for len(entries) > 0 {
		calls++
		out, err := f.API.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(f.Stream), Records: entries})
		if err == nil {
			var failed []types.PutRecordsRequestEntry
			for i, e := range out.Records {
				if e.ErrorCode != nil {
					failed = append(failed, entries[i])
					continue
				}
				sh, seq := aws.ToString(e.ShardId), aws.ToString(e.SequenceNumber)
				if SeqLess(last[sh], seq) {
					last[sh] = seq
				}
			}
			if len(failed) == 0 {
				break
			}
			retried += len(failed)
			entries = failed
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("put %d records: %w", len(entries), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.res.Acked += len(recs)
	f.res.Calls += calls
	f.res.Retries += retried
	if f.res.Last == nil {
		f.res.Last = map[string]string{}
	}
	for sh, seq := range last {
		if SeqLess(f.res.Last[sh], seq) {
			f.res.Last[sh] = seq
		}
	}
	return nil
}

// Result returns the totals so far.
func (f *Feeder) Result() Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.res
	r.Last = make(map[string]string, len(f.res.Last))
	for k, v := range f.res.Last {
		r.Last[k] = v
	}
	return r
}

// All puts every record with concurrency calls of batch records in flight.
func (f *Feeder) All(ctx context.Context, recs []Record, concurrency, batch int) (Result, error) {
	batch = min(max(batch, 1), 500)
	concurrency = max(concurrency, 1)
	start := time.Now()
	work := make(chan []Record)
	errs := make(chan error, concurrency)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if err := f.PutBatch(ctx, b); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for i := 0; i < len(recs); i += batch {
		select {
		case work <- recs[i:min(i+batch, len(recs))]:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	res := f.Result()
	res.Seconds = time.Since(start).Seconds()
	select {
	case err := <-errs:
		return res, err
	default:
	}
	return res, nil
}

// Steady puts synthetic probe records {"seq":n,"put_ns":t} at rate records
// per second for d, in one batch every 10 ms, each stamped with the time
// its PutRecords call starts. Calls overlap (up to 32 in flight) so that a
// slow answer does not delay the schedule.
func (f *Feeder) Steady(ctx context.Context, rate int, d time.Duration) (Result, error) {
	const tick = 10 * time.Millisecond
	per := max(rate/int(time.Second/tick), 1)
	start := time.Now()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex
	t := time.NewTicker(tick)
	defer t.Stop()
	seq := 0
	for time.Since(start) < d && ctx.Err() == nil {
		<-t.C
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		recs := make([]Record, per)
		now := time.Now().UnixNano()
		for i := range recs {
			recs[i] = Record{Key: strconv.Itoa(seq % 256), Data: fmt.Appendf(nil, `{"seq":%d,"put_ns":%d}`, seq, now)}
			seq++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f.PutBatch(ctx, recs); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	res := f.Result()
	res.Seconds = time.Since(start).Seconds()
	return res, firstErr
}

// SeqLess orders Kinesis sequence numbers (decimal strings of up to 128
// bits without leading zeros); "" sorts first.
func SeqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
