package kinesis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// TestParallelizationFactorProperty runs ParallelizationFactor 10
// with a function that randomly fails whole invocations or reports a
// random partial failure, and checks the properties lanes promise
// (docs/semantics.md, "ESM parallelization factor"):
// per-key order in the sink, every record delivered exactly once, and no
// checkpoint handed to the sink (or the store) ever skips a record that was
// not yet delivered.
func TestParallelizationFactorProperty(t *testing.T) {
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

// A lane whose batch keeps failing must not hold back the other lanes' later
// reads (lanes invoke and retry independently), while the checkpoint still
// stays before the failing record (the checkpoint rule). Lockstep rounds
// failed this: the next read waited for every lane.
func TestFailingLaneDoesNotHoldOtherLanes(t *testing.T) {
	cases := []struct {
		name    string
		backend string
	}{
		{"in-process", "embedded"},
		{"http", "http"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScenario(t, c.backend, 1)
			// Two keys in different lanes of 2 (the mapping's lane hash is
			// FNV-1a 32 of the key).
			lane := func(k string) uint32 { h := fnv.New32a(); h.Write([]byte(k)); return h.Sum32() % 2 }
			keyA, keyB := "a", "b0"
			for i := 1; lane(keyB) == lane(keyA); i++ {
				keyB = fmt.Sprint("b", i)
			}
			// BatchSize 1 × 2 lanes: each read takes two records, so A1 and
			// B1 form the first read and B2…B5 two more.
			s.put(t, []string{"A1", "B1", "B2", "B3", "B4", "B5"}, []string{keyA, keyB, keyB, keyB, keyB, keyB})

			healed := make(chan struct{})
			sawB5 := make(chan struct{})
			var once sync.Once
			handler := func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
				var resp sdk.StreamResponse
				for _, r := range e.Records {
					switch string(r.Kinesis.Data) {
					case "A1":
						select {
						case <-healed:
						default:
							return resp, errors.New("A1 fails until healed")
						}
					case "B5":
						defer once.Do(func() { close(sawB5) })
					}
					resp.Records = append(resp.Records, sdk.OutputRecord{Data: r.Kinesis.Data})
				}
				return resp, nil
			}
			sink := newRecordingSink()
			_, stop := s.start(t, kt.Config{ID: "lanes", FunctionName: "Fn", BatchSize: 1, ParallelizationFactor: 2}, handler, sink, nil)
			defer stop()

			select {
			case <-sawB5:
			case <-time.After(30 * time.Second):
				t.Fatal("lane B never reached B5 while lane A was failing: lanes run in lockstep")
			}
			// A1 is the shard's first record: nothing may be checkpointed
			// yet, in the store or with the sink's batches.
			if pos, err := s.store.Get(context.Background(), "lanes", "shardId-000000000000"); err != nil || pos.SequenceNumber != "" {
				t.Fatalf("store checkpoint %q (err %v) passed the failing A1", pos.SequenceNumber, err)
			}
			sink.mu.Lock()
			for _, b := range sink.batches {
				if b.Source.Checkpoint != "" {
					t.Errorf("sink batch %q carried checkpoint %s past the failing A1", b.Records[0].Data, b.Source.Checkpoint)
				}
			}
			sink.mu.Unlock()

			close(healed)
			s.waitDone(t, "lanes")
			got := sink.data()
			sort.Strings(got)
			if want := []string{"A1", "B1", "B2", "B3", "B4", "B5"}; !slices.Equal(got, want) {
				t.Errorf("sink holds %v, want %v once each", got, want)
			}
		})
	}
}

// Lanes with filters: whole reads can be filtered out (a round with no
// lane work) between and after reads that have some, and the checkpoint
// must still reach the shard's last record, with every kept record
// delivered once and in order per key.
func TestLanesWithFilteredRounds(t *testing.T) {
	for _, factor := range []int{1, 3} {
		t.Run(fmt.Sprintf("factor=%d", factor), func(t *testing.T) {
			s := newScenario(t, "embedded", 1)
			const n = 300
			data, keys := make([]string, n), make([]string, n)
			var want []string
			for i := range n {
				// Records 0–39 kept, 40–139 dropped (whole reads of
				// BatchSize×factor), then every third, and the tail dropped.
				keep := i < 40 || (i >= 140 && i < 280 && i%3 == 0)
				data[i], keys[i] = fmt.Sprintf(`{"i":%d,"keep":%v}`, i, keep), fmt.Sprint("k", i%7)
				if keep {
					want = append(want, data[i])
				}
			}
			s.put(t, data, keys)
			sink := newRecordingSink()
			cfg := kt.Config{ID: "filt", FunctionName: "Fn", BatchSize: 5, ParallelizationFactor: factor, FilterPatterns: []string{`{"data":{"keep":[true]}}`}}
			_, stop := s.start(t, cfg, echo, sink, nil)
			s.waitDone(t, "filt") // the checkpoint reaches record 299, filtered out
			stop()
			got := sink.data()
			last := map[string]int{}
			for _, d := range got {
				var v struct{ I int }
				if err := json.Unmarshal([]byte(d), &v); err != nil {
					t.Fatal(err)
				}
				if prev, ok := last[keys[v.I]]; ok && prev > v.I {
					t.Fatalf("key %s: record %d after %d", keys[v.I], v.I, prev)
				}
				last[keys[v.I]] = v.I
			}
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("sink holds %d records, want the %d kept, once each", len(got), len(want))
			}
		})
	}
}
