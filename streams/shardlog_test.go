package streams

// The shard log's own semantics: counters, the sparse and sealed indexes,
// retention, reopen. Crashes, torn tails and storage faults are the
// underlying log's, tested in internal/seglog.

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

func TestShardLogRotationIndexTrimReopen(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(time.UnixMilli(1_000_000))
	opts := shardLogOptions{SegmentBytes: 4 << 10, IndexEvery: 512, Clock: clk}
	l, err := openShardLog(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent appends share commits; counters are consecutive per append.
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; b < 25; b++ {
				first, _, err := l.Append([]shardEntry{{Key: "k", Data: []byte(fmt.Sprintf("w%d-b%d-0", w, b))}, {Key: "k", Data: []byte(fmt.Sprintf("w%d-b%d-1", w, b))}}).Wait()
				if err != nil {
					t.Error(err)
					return
				}
				recs, _, err := l.Read(first, 0, 2, 1<<20, nil)
				if err != nil || len(recs) != 2 || string(recs[1].Data) != fmt.Sprintf("w%d-b%d-1", w, b) {
					t.Errorf("read back %d: %v %v", first, recs, err)
				}
			}
		}(w)
	}
	wg.Wait()
	if n := len(l.Segments()); n < 3 {
		t.Fatalf("expected rotation, got %d segments", n)
	}
	// Read everything in small pages across segment boundaries.
	var all []shardRecord
	pos := uint64(0)
	for {
		recs, next, err := l.Read(pos, 0, 7, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for i, r := range recs {
			if i > 0 && r.Counter != recs[i-1].Counter+1 {
				t.Fatalf("gap at %d", r.Counter)
			}
		}
		all = append(all, recs...)
		pos = next
	}
	if len(all) != 400 || all[0].Counter != 1 || all[399].Counter != 400 {
		t.Fatalf("read %d records", len(all))
	}
	// Later records arrive later; trimming before then drops whole old
	// segments but keeps the newest.
	clk.Advance(time.Hour)
	now := clk.Now()
	if _, _, err := l.Append([]shardEntry{{Key: "k", Data: []byte("late")}}).Wait(); err != nil {
		t.Fatal(err)
	}
	segs := len(l.Segments())
	n, err := l.TrimBefore(now.UnixMilli())
	if err != nil || n != segs-1 || len(l.Segments()) != 1 {
		t.Fatalf("trimmed %d of %d: %v", n, segs, err)
	}
	if got, err := l.SeekTime(now.UnixMilli()); err != nil || got != 401 {
		t.Fatalf("SeekTime = %d %v", got, err)
	}
	l.Close()
	// Reopen resumes counters after the retained tail.
	l, err = openShardLog(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	first, _, err := l.Append([]shardEntry{{Key: "k", Data: []byte("x")}}).Wait()
	if err != nil || first != 402 {
		t.Fatalf("after reopen first counter %d: %v", first, err)
	}
}

// TestShardLogSealedIndexReopen: sealed segments get index files, Open uses them
// (same records, same positions, counters resume), and a damaged index
// falls back to scanning.
func TestShardLogSealedIndexReopen(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(time.UnixMilli(1_000_000))
	opts := shardLogOptions{SegmentBytes: 4 << 10, IndexEvery: 512, Clock: clk}
	l, err := openShardLog(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		clk.Advance(time.Millisecond)
		if _, _, err := l.Append([]shardEntry{{Key: "k", Data: []byte(fmt.Sprintf("record-%03d", i))}}).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	segs := l.Segments()
	want, _, err := l.Read(0, 0, 1000, 1<<20, nil)
	if err != nil || len(want) != 300 {
		t.Fatalf("read %d: %v", len(want), err)
	}
	seek, _ := l.SeekTime(want[150].ArrivalMillis)
	l.Close()
	idx, _ := filepath.Glob(filepath.Join(dir, "*.seg.idx"))
	if len(segs) < 3 || len(idx) != len(segs)-1 {
		t.Fatalf("%d segments, %d index files: want one per sealed segment", len(segs), len(idx))
	}

	check := func(name string) {
		t.Helper()
		l, err := openShardLog(dir, opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer l.Close()
		got, _, err := l.Read(0, 0, 1000, 1<<20, nil)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: records differ after reopen (%d vs %d): %v", name, len(got), len(want), err)
		}
		if s, _ := l.SeekTime(want[150].ArrivalMillis); s != seek {
			t.Fatalf("%s: SeekTime %d, want %d", name, s, seek)
		}
		if r, _, _ := l.Read(want[200].Counter, 0, 1, 1<<20, nil); len(r) != 1 || r[0].Counter != want[200].Counter {
			t.Fatalf("%s: positioned read %v", name, r)
		}
		if l.Next() != 301 {
			t.Fatalf("%s: Next %d", name, l.Next())
		}
	}
	check("with index files")
	// Damage one index and truncate another: both segments are scanned.
	b, _ := os.ReadFile(idx[0])
	b[len(b)/2] ^= 0xff
	os.WriteFile(idx[0], b, 0o644)
	os.Truncate(idx[1], 10)
	check("with damaged index files")
}
