package kinesis_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// A typed handler's output records reach the sink as the handler returned
// them: no JSON encode of the StreamResponse and decode back (that round
// trip was 7% of a pipeline's CPU), with ReportBatchItemFailures too.
func TestTypedOutputReachesSinkWithoutJSON(t *testing.T) {
	cases := []struct {
		name    string
		partial bool // ReportBatchItemFailures
	}{
		{"typed", false},
		{"ReportBatchItemFailures", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScenario(t, "embedded", 1)
			s.put(t, []string{"a", "b", "c"}, []string{"k", "k", "k"})
			outs := map[string][]byte{} // output Data by input, as returned
			handler := func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
				var resp sdk.StreamResponse
				for _, r := range e.Records {
					d := fmt.Appendf(nil, "out-%s", r.Kinesis.Data)
					outs[string(d)] = d
					resp.Records = append(resp.Records, sdk.OutputRecord{Data: d, PartitionKeys: map[string]string{"in": string(r.Kinesis.Data)}})
				}
				return resp, nil
			}
			sink := newRecordingSink()
			_, stop := s.start(t, kt.Config{ID: "typed", FunctionName: "Fn", ReportBatchItemFailures: c.partial}, handler, sink, nil)
			s.waitDone(t, "typed")
			stop()
			n := 0
			for _, b := range sink.batches {
				for _, r := range b.Records {
					n++
					d := outs[string(r.Data)]
					if d == nil || r.PartitionKeys["in"] != string(r.Data[len("out-"):]) {
						t.Fatalf("sink got %q %v, not a record the handler returned", r.Data, r.PartitionKeys)
					}
					if &d[0] != &r.Data[0] {
						t.Errorf("record %q: a copy reached the sink, not the handler's own bytes", r.Data)
					}
				}
			}
			if n != 3 {
				t.Errorf("sink got %d records, want 3", n)
			}
		})
	}
}

// countingStore counts checkpoint writes.
type countingStore struct {
	*notifyStore
	mu   sync.Mutex
	puts int
}

func (s *countingStore) Put(ctx context.Context, m, shard string, pos checkpoint.Position) error {
	s.mu.Lock()
	s.puts++
	s.mu.Unlock()
	return s.notifyStore.Put(ctx, m, shard, pos)
}

// Checkpoint writes are paced by CheckpointInterval (each costs the
// store's fsync, and 20 one-record batches must not mean 20 of them), and
// stopping the mapping still writes the latest checkpoint at once.
func TestCheckpointWritesPacedAndFlushedOnStop(t *testing.T) {
	cases := []struct {
		name     string
		interval time.Duration
		maxPuts  int
	}{
		// The first write goes at once; the hour never passes, so the
		// only other write is the flush on stop.
		{"paced", time.Hour, 2},
		// Negative: after every batch (writes still coalesce while one
		// is in progress, so at most one per batch).
		{"unpaced", -1, 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScenario(t, "embedded", 1)
			data, keys := make([]string, 20), make([]string, 20)
			for i := range data {
				data[i], keys[i] = fmt.Sprint(i), "k"
			}
			s.put(t, data, keys)
			store := &countingStore{notifyStore: s.store}
			s.store = &notifyStore{Store: store, changed: s.store.changed}
			sink := newRecordingSink()
			_, stop := s.startOpts(t, kt.Config{ID: "paced", FunctionName: "Fn", BatchSize: 1}, echo, sink, kt.Options{CheckpointInterval: c.interval})
			sink.waitRecords(t, 20)
			stop()
			pos, err := store.Get(context.Background(), "paced", "shardId-000000000000")
			if want := s.lastSeqs()["shardId-000000000000"]; err != nil || pos.SequenceNumber != want {
				t.Fatalf("after stop the store holds %q (err %v), want the last record %s", pos.SequenceNumber, err, want)
			}
			store.mu.Lock()
			defer store.mu.Unlock()
			if store.puts > c.maxPuts || store.puts == 0 {
				t.Errorf("%d checkpoint writes for 20 batches, want 1–%d", store.puts, c.maxPuts)
			}
		})
	}
}
