package shardlog

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestRotationIndexTrimReopen(t *testing.T) {
	dir := t.TempDir()
	now := time.UnixMilli(1_000_000)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	opts := Options{SegmentBytes: 4 << 10, IndexEvery: 512, Now: clock}
	l, err := Open(dir, opts)
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
				first, _, err := l.Append([]Entry{{Key: "k", Data: []byte(fmt.Sprintf("w%d-b%d-0", w, b))}, {Key: "k", Data: []byte(fmt.Sprintf("w%d-b%d-1", w, b))}}).Wait()
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
	var all []Record
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
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if _, _, err := l.Append([]Entry{{Key: "k", Data: []byte("late")}}).Wait(); err != nil {
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
	l, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	first, _, err := l.Append([]Entry{{Key: "k", Data: []byte("x")}}).Wait()
	if err != nil || first != 402 {
		t.Fatalf("after reopen first counter %d: %v", first, err)
	}
}
