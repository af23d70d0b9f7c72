package shardlog

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestSealedIndexReopen: sealed segments get index files, Open uses them
// (same records, same positions, counters resume), and a damaged index
// falls back to scanning.
func TestSealedIndexReopen(t *testing.T) {
	dir := t.TempDir()
	ms := int64(1_000_000)
	opts := Options{SegmentBytes: 4 << 10, IndexEvery: 512, Now: func() time.Time { ms++; return time.UnixMilli(ms) }}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, _, err := l.Append([]Entry{{Key: "k", Data: []byte(fmt.Sprintf("record-%03d", i))}}).Wait(); err != nil {
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
		l, err := Open(dir, opts)
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
