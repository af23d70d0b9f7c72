package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// TestParallelizationFactorProperty_Spec1_5 runs ParallelizationFactor 10
// with a function that randomly fails whole invocations or reports a
// random partial failure, and checks the properties §1.5 promises:
// per-key order in the sink, every record delivered exactly once, and no
// checkpoint handed to the sink (or the store) ever skips a record that was
// not yet delivered.
func TestParallelizationFactorProperty_Spec1_5(t *testing.T) {
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s := newScenario(t, "embedded", 2)
			const n, keys = 2000, 61
			data, ks := make([]string, n), make([]string, n)
			for i := range n {
				data[i], ks[i] = fmt.Sprintf("%d", i), fmt.Sprintf("user-%d", i%keys)
			}
			s.put(t, data, ks)

			rng := rand.New(rand.NewPCG(seed, seed))
			var mu sync.Mutex
			handler := func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
				mu.Lock()
				p, cut := rng.Float64(), rng.IntN(len(e.Records))
				mu.Unlock()
				var resp sdk.StreamResponse
				switch {
				case p < 0.2:
					return resp, errors.New("random failure")
				case p < 0.4:
					resp.BatchItemFailures = []events.KinesisBatchItemFailure{{ItemIdentifier: e.Records[cut].Kinesis.SequenceNumber}}
					e.Records = e.Records[:cut]
				}
				for _, r := range e.Records {
					resp.Records = append(resp.Records, sdk.OutputRecord{Data: r.Kinesis.Data})
				}
				return resp, nil
			}
			sink := newRecordingSink()
			cfg := kt.Config{ID: "pf", FunctionName: "Fn", BatchSize: 25, ParallelizationFactor: 10, ReportBatchItemFailures: true}
			_, stop := s.start(t, cfg, handler, sink, nil)
			s.waitDone(t, "pf")
			stop()

			// Every record exactly once, in order per key.
			seen := map[string]int{}
			last := map[string]int{}
			for _, d := range sink.data() {
				seen[d]++
				var i int
				fmt.Sscan(d, &i)
				if prev, ok := last[ks[i]]; ok && prev > i {
					t.Fatalf("key %s: record %d after %d", ks[i], i, prev)
				}
				last[ks[i]] = i
			}
			for i := range n {
				if seen[data[i]] != 1 {
					t.Fatalf("record %d delivered %d times", i, seen[data[i]])
				}
			}

			// No checkpoint skips an undelivered record: after each batch,
			// every record at or below its checkpoint has been delivered.
			byShard := map[string][]putRecord{}
			for _, r := range s.recs {
				byShard[r.shard] = append(byShard[r.shard], r)
			}
			delivered := map[string]bool{}
			lastCP := map[string]*big.Int{}
			for _, b := range sink.batches {
				for _, r := range b.Records {
					delivered[string(r.Data)] = true
				}
				shard := b.Source.ID[strings.LastIndex(b.Source.ID, "/")+1:]
				cp, _ := new(big.Int).SetString(b.Source.Checkpoint, 10)
				if cp == nil {
					continue
				}
				if prev := lastCP[shard]; prev != nil && cp.Cmp(prev) < 0 {
					t.Fatalf("shard %s: checkpoint went back from %s to %s", shard, prev, cp)
				}
				lastCP[shard] = cp
				for _, r := range byShard[shard] {
					seq, _ := new(big.Int).SetString(r.seq, 10)
					if seq.Cmp(cp) <= 0 && !delivered[r.data] {
						t.Fatalf("shard %s: checkpoint %s passed undelivered record %s (%s)", shard, cp, r.data, r.seq)
					}
				}
			}
		})
	}
}
