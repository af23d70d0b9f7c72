package firehose

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/handover"
)

// These tests crash a delivery stream (abandon: no Close, nothing buffered
// in the log writer reaches the disk, no further entry is written) and
// reopen its state directory, then check the bucket: every accepted record
// exactly once, checkpoints recovered.

// countRecords maps each record line in the bucket to its number of
// occurrences. Records are newline-delimited (AppendDelimiter) and unique.
func countRecords(t *testing.T, m *memDest) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, k := range m.keys() {
		for _, line := range strings.Split(strings.TrimSuffix(m.body(t, k), "\n"), "\n") {
			if line != "" {
				seen[line]++
			}
		}
	}
	return seen
}

func assertExactlyOnce(t *testing.T, m *memDest, accepted []string) {
	t.Helper()
	seen := countRecords(t, m)
	for _, r := range accepted {
		if seen[r] != 1 {
			t.Errorf("record %s delivered %d times", r, seen[r])
		}
		delete(seen, r)
	}
	for r, n := range seen {
		t.Errorf("unexpected record %s (%d times)", r, n)
	}
}

func crashConfig() Config {
	c := dpConfig()
	c.Prefix = "p=!{partitionKeyFromQuery:p}/!{firehose:random-string}/"
	c.MetadataExtractionQuery = "{p:.p}"
	return c
}

func TestCrashBeforeFlushReplaysBuffers(t *testing.T) {
	dir, clk, m := t.TempDir(), newClock(), newMemDest()
	d := openTest(t, crashConfig(), dir, m, clk)
	var accepted []string
	for i := range 10 {
		r := fmt.Sprintf(`{"p":%d,"i":%d}`, i%3, i)
		mustAccept(t, d, batch("shard-0", fmt.Sprint(i), rec(r, clk.Now())))
		accepted = append(accepted, r)
	}
	d.abandon()
	if len(m.keys()) != 0 {
		t.Fatal("objects before any flush")
	}
	d = openTest(t, crashConfig(), dir, m, clk)
	if got := d.Checkpoint("shard-0"); got != "9" {
		t.Fatalf("recovered checkpoint = %q, want 9", got)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, m, accepted)
}

// TestCrashAfterPutRewritesSameKey covers the window between writing an
// object and recording it as done: the destination stores the object and
// then fails (as if the process died before the done entry); the reopened
// stream re-executes the intent and must write the identical key and bytes.
func TestCrashAfterPutRewritesSameKey(t *testing.T) {
	dir, clk, m := t.TempDir(), newClock(), newMemDest()
	m.failAfterWrite = func(string) bool { return true }
	d := openTest(t, crashConfig(), dir, m, clk)
	var accepted []string
	for i := range 6 {
		r := fmt.Sprintf(`{"p":%d,"i":%d}`, i%2, i)
		mustAccept(t, d, batch("s", fmt.Sprint(i), rec(r, clk.Now())))
		accepted = append(accepted, r)
	}
	if err := d.Flush(context.Background()); err == nil {
		t.Fatal("flush must report the injected failure")
	}
	first := map[string][]byte{}
	for _, k := range m.keys() {
		first[k] = m.objs[k]
	}
	if len(first) != 2 {
		t.Fatalf("objects after failed flush = %v", m.keys())
	}
	d.abandon()

	m.mu.Lock()
	m.failAfterWrite = nil
	m.mu.Unlock()
	d = openTest(t, crashConfig(), dir, m, clk)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// memDest refuses a rewrite with different bytes, so equal key sets
	// and two puts per key mean the replay was byte-identical.
	if ks := m.keys(); len(ks) != 2 {
		t.Fatalf("keys after replay = %v", ks)
	}
	for k := range first {
		if m.puts[k] < 2 {
			t.Errorf("%s was not rewritten by the replay (puts=%d)", k, m.puts[k])
		}
	}
	assertExactlyOnce(t, m, accepted)
}

// TestRetryInProcessKeepsKey: a failed write is retried with the same key.
func TestRetryInProcessKeepsKey(t *testing.T) {
	dir, clk, m := t.TempDir(), newClock(), newMemDest()
	fail := true
	m.failBefore = func(string) bool { return fail }
	d := openTest(t, crashConfig(), dir, m, clk)
	mustAccept(t, d, batch("s", "1", rec(`{"p":1}`, clk.Now())))
	if err := d.Flush(context.Background()); err == nil {
		t.Fatal("want injected failure")
	}
	m.mu.Lock()
	m.failBefore = nil
	m.mu.Unlock()
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, m, []string{`{"p":1}`})
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, err := listSegments(filepath.Join(dir, "clicks", "wal"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	return filepath.Join(dir, "clicks", "wal", segName(segs[len(segs)-1]))
}

// TestTornTail: the last entry is cut mid-way (a write that never
// completed, so its batch was never acknowledged) or followed by garbage.
// Recovery keeps everything before it.
func TestTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(path string, lastEntry int64) error
	}{
		{"cut mid-entry", func(p string, last int64) error {
			fi, _ := os.Stat(p)
			return os.Truncate(p, fi.Size()-last/2)
		}},
		{"cut mid-header", func(p string, last int64) error {
			fi, _ := os.Stat(p)
			return os.Truncate(p, fi.Size()-last+4)
		}},
		{"garbage tail", func(p string, last int64) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 2, 9, 9})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, clk, m := t.TempDir(), newClock(), newMemDest()
			d := openTest(t, crashConfig(), dir, m, clk)
			var accepted []string
			for i := range 5 {
				r := fmt.Sprintf(`{"p":%d,"i":%d}`, i%2, i)
				mustAccept(t, d, batch("s", fmt.Sprint(i), rec(r, clk.Now())))
				accepted = append(accepted, r)
			}
			path := lastSegment(t, dir)
			before, _ := os.Stat(path)
			last := fmt.Sprintf(`{"p":0,"i":%d}`, 99)
			mustAccept(t, d, batch("s", "99", rec(last, clk.Now())))
			d.abandon()
			after, _ := os.Stat(path)
			lastLen := after.Size() - before.Size()
			wantCP := "99"
			if tc.name != "garbage tail" {
				wantCP = "4" // the torn batch was never acknowledged
			} else {
				accepted = append(accepted, last)
			}
			if err := tc.tear(path, lastLen); err != nil {
				t.Fatal(err)
			}
			d = openTest(t, crashConfig(), dir, m, clk)
			if got := d.Checkpoint("s"); got != wantCP {
				t.Fatalf("checkpoint = %q, want %q", got, wantCP)
			}
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			assertExactlyOnce(t, m, accepted)
		})
	}
}

func TestDamageBeforeTailIsReported(t *testing.T) {
	dir, clk, m := t.TempDir(), newClock(), newMemDest()
	d := openTest(t, crashConfig(), dir, m, clk)
	mustAccept(t, d, batch("s", "1", rec(`{"p":1}`, clk.Now())))
	d.abandon()
	damaged := lastSegment(t, dir)
	// Reopen once so the damaged segment is no longer the tail (the record
	// in it is still buffered, so the segment is kept).
	d = openTest(t, crashConfig(), dir, m, clk)
	d.abandon()
	b, _ := os.ReadFile(damaged)
	b[len(b)-3] ^= 0xff
	if err := os.WriteFile(damaged, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(crashConfig(), Options{StateDir: dir, Destination: m, Now: clk.Now})
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("Open = %v, want a damaged-segment error", err)
	}
}

// TestSegmentsReclaimedCheckpointsSurvive uses tiny segments so the log
// rotates and deletes delivered segments; checkpoints must survive.
func TestSegmentsReclaimedCheckpointsSurvive(t *testing.T) {
	dir, clk, m := t.TempDir(), newClock(), newMemDest()
	small := func(o *Options) { o.SegmentSize = 512 }
	d := openTest(t, crashConfig(), dir, m, clk, small)
	var accepted []string
	for i := range 40 {
		r := fmt.Sprintf(`{"p":%d,"i":%d,"pad":"%s"}`, i%4, i, strings.Repeat("z", 50))
		src := fmt.Sprintf("shard-%d", i%3)
		mustAccept(t, d, batch(src, fmt.Sprint(i), rec(r, clk.Now())))
		accepted = append(accepted, r)
		if i%7 == 6 {
			if err := d.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(filepath.Join(dir, "clicks", "wal"))
	if len(segs) > 2 {
		t.Fatalf("delivered segments not reclaimed: %v", segs)
	}
	d.abandon()
	d = openTest(t, crashConfig(), dir, m, clk, small)
	for s, want := range map[string]string{"shard-0": "39", "shard-1": "37", "shard-2": "38"} {
		if got := d.Checkpoint(s); got != want {
			t.Errorf("checkpoint %s = %q, want %q", s, got, want)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertExactlyOnce(t, m, accepted)
}

// TestRandomCrashes interleaves accepts, flushes, failing writes and
// crashes over many incarnations of one state directory.
func TestRandomCrashes(t *testing.T) {
	seeds := uint64(8)
	if v, err := strconv.ParseUint(os.Getenv("SLUICE_CRASH_SEEDS"), 10, 64); err == nil {
		seeds = v
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			dir, clk, m := t.TempDir(), newClock(), newMemDest()
			opt := func(o *Options) { o.SegmentSize = 2048 }
			d := openTest(t, crashConfig(), dir, m, clk, opt)
			var accepted []string
			cps := map[string]string{}
			n := 0
			for step := range 120 {
				switch x := rng.IntN(20); {
				case x < 12:
					src := fmt.Sprintf("shard-%d", rng.IntN(3))
					var recs []handover.Record
					for range rng.IntN(5) {
						recs = append(recs, rec(fmt.Sprintf(`{"p":%d,"n":%d}`, rng.IntN(4), n), clk.Now()))
						n++
					}
					cp := fmt.Sprint(step)
					mustAccept(t, d, batch(src, cp, recs...))
					cps[src] = cp
					for _, r := range recs {
						accepted = append(accepted, string(r.Data))
					}
				case x < 14:
					d.Flush(context.Background()) // may fail by injection
				case x < 15:
					clk.Advance(61 * time.Second)
					d.FlushDue(context.Background())
				case x < 17:
					fa := rng.IntN(2) == 0
					m.mu.Lock()
					m.failAfterWrite = func(string) bool { return fa }
					m.mu.Unlock()
				default:
					d.abandon()
					m.mu.Lock()
					m.failAfterWrite = nil
					m.mu.Unlock()
					d = openTest(t, crashConfig(), dir, m, clk, opt)
					for s, cp := range cps {
						if got := d.Checkpoint(s); got != cp {
							t.Fatalf("step %d: checkpoint %s = %q, want %q", step, s, got, cp)
						}
					}
				}
			}
			m.mu.Lock()
			m.failAfterWrite = nil
			m.mu.Unlock()
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			assertExactlyOnce(t, m, accepted)
		})
	}
}
