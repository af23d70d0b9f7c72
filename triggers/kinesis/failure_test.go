package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// poisonous echoes every record unless the batch holds a record whose data
// is "poison", which makes the whole invocation fail.
func poisonous(invokes *atomic.Int64) func(context.Context, events.KinesisEvent) (sdk.StreamResponse, error) {
	return func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
		invokes.Add(1)
		var resp sdk.StreamResponse
		for _, r := range e.Records {
			if string(r.Kinesis.Data) == "poison" {
				return sdk.StreamResponse{}, errors.New("cannot parse record")
			}
			resp.Records = append(resp.Records, sdk.OutputRecord{Data: r.Kinesis.Data})
		}
		return resp, nil
	}
}

// TestPoisonRecordIsolatedByBisect is issue 5's first "done when":
// a poison record in a batch of 500 with BisectBatchOnFunctionError and
// MaximumRetryAttempts 2 ends up alone in the failure destination with its
// payload, every other record reaches the sink once and in key order, and
// the invocation count stays within the bound bisection implies:
// 1 + 2·ceil(log2 500) + MaximumRetryAttempts.
func TestPoisonRecordIsolatedByBisect(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		s := newScenario(t, backend, 1)
		const n, poisonAt, retries = 500, 287, 2
		data, keys := make([]string, n), make([]string, n)
		for i := range n {
			data[i], keys[i] = fmt.Sprintf("%d", i), fmt.Sprintf("key-%d", i%23)
		}
		data[poisonAt] = "poison"
		s.put(t, data, keys)

		var invokes atomic.Int64
		sink, fd := newRecordingSink(), newMemDest()
		cfg := kt.Config{ID: "poison-map", FunctionName: "Enrich", BatchSize: 500,
			BisectBatchOnFunctionError: true, MaximumRetryAttempts: retries, RetryAttemptsSet: true,
			OnFailureBucket: "clickstream-failures"}
		_, stop := s.start(t, cfg, poisonous(&invokes), sink, fd)
		s.waitDone(t, "poison-map")
		stop()

		keysOut, frs := fd.records(t)
		if len(frs) != 1 {
			t.Fatalf("%d failure records, want exactly 1: %v", len(frs), keysOut)
		}
		fr := frs[0]
		poisonSeq := s.recs[poisonAt].seq
		if fr.KinesisBatchInfo.BatchSize != 1 || fr.KinesisBatchInfo.StartSequenceNumber != poisonSeq || fr.KinesisBatchInfo.EndSequenceNumber != poisonSeq {
			t.Errorf("failure record covers %+v, want only the poison record %s", fr.KinesisBatchInfo, poisonSeq)
		}
		if fr.Payload == nil || len(fr.Payload.Records) != 1 || string(fr.Payload.Records[0].Kinesis.Data) != "poison" {
			t.Errorf("payload %+v, want the poison record", fr.Payload)
		}
		if fr.RequestContext.Condition != kt.ConditionRetryAttemptsExhausted || fr.ResponseContext == nil ||
			fr.ResponseContext.FunctionError == nil || *fr.ResponseContext.FunctionError != "Unhandled" {
			t.Errorf("failure record context %+v %+v", fr.RequestContext, fr.ResponseContext)
		}
		if !strings.HasPrefix(keysOut[0], "clickstream-failures/aws/lambda/poison-map/"+s.recs[0].shard+"/") {
			t.Errorf("failure record key %s", keysOut[0])
		}

		got := sink.data()
		seen := map[string]int{}
		last := map[string]int{}
		for _, d := range got {
			seen[d]++
			var i int
			fmt.Sscan(d, &i)
			if prev, ok := last[keys[i]]; ok && prev > i {
				t.Errorf("key %s: record %d after %d", keys[i], i, prev)
			}
			last[keys[i]] = i
		}
		for i := range n {
			if want := map[bool]int{true: 0, false: 1}[i == poisonAt]; seen[data[i]] != want {
				t.Errorf("record %d reached the sink %d times, want %d", i, seen[data[i]], want)
			}
		}
		bound := int64(1 + 2*int(math.Ceil(math.Log2(n))) + retries)
		if got := invokes.Load(); got > bound {
			t.Errorf("%d invocations, bisect bound is %d", got, bound)
		}
		// The retries of the single record: MaximumRetryAttempts+1 invocations
		// held it alone, plus every invocation of its halves.
		if c := fr.RequestContext.ApproximateInvokeCount; c < retries+1 {
			t.Errorf("approximateInvokeCount %d, want ≥ %d", c, retries+1)
		}
	})
}

// TestSecondOwnerFencesFirst: when another instance claims a shard in the
// shared checkpoint store, the first one's checkpoint writes are refused
// (checkpoint.ErrFenced) and it stops working on the shard instead of
// moving the checkpoint behind the new owner's back.
func TestSecondOwnerFencesFirst(t *testing.T) {
	s := newScenario(t, "embedded", 1)
	s.put(t, []string{"1"}, []string{"k"})
	block := make(chan struct{})
	started := make(chan struct{}, 1)
	handler := func(context.Context, events.KinesisEvent) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-block
		return nil
	}
	_, stop := s.start(t, kt.Config{ID: "fence", FunctionName: "Fn"}, handler, nil, nil)
	<-started
	// Another instance takes the shard over while the first is invoking.
	if _, err := s.store.Claim(context.Background(), "fence", s.recs[0].shard, "other"); err != nil {
		t.Fatal(err)
	}
	close(block)
	stop()
	pos, _ := s.store.Get(context.Background(), "fence", s.recs[0].shard)
	if pos.SequenceNumber != "" || pos.Owner != "other" {
		t.Errorf("fenced owner moved the checkpoint: %+v", pos)
	}
}
