package shardlog

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Storage failures (issue 8, disk full): a failed append fails exactly the
// appends of its group commit, leaves nothing of them readable (now or
// after a reopen), keeps every acknowledged record, and the log accepts
// appends again once the fault clears, without a restart.

func entries(prefix string, n int) []Entry {
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{Key: "k", Data: []byte(fmt.Sprintf("%s-%03d", prefix, i))}
	}
	return out
}

// readAll reads every record in pages of 7, so reads cross index entries
// and segment boundaries.
func readAll(t *testing.T, l *Log) []Record {
	t.Helper()
	var all []Record
	pos := uint64(0)
	for {
		recs, next, err := l.Read(pos, 0, 7, 1<<20, nil)
		if err != nil {
			t.Fatalf("read from %d: %v", pos, err)
		}
		if len(recs) == 0 {
			return all
		}
		all = append(all, recs...)
		pos = next
	}
}

// checkExactly asserts the log holds exactly want, in order, with
// consecutive counters from 1: acknowledged records once each and nothing
// of a failed append.
func checkExactly(t *testing.T, l *Log, want []string) {
	t.Helper()
	got := readAll(t, l)
	if len(got) != len(want) {
		t.Fatalf("log holds %d records, want %d (%v)", len(got), len(want), dataOf(got))
	}
	for i, r := range got {
		if string(r.Data) != want[i] || r.Counter != uint64(i+1) {
			t.Fatalf("record %d: counter %d data %q, want counter %d data %q", i, r.Counter, r.Data, i+1, want[i])
		}
	}
	if l.Next() != uint64(len(want)+1) {
		t.Fatalf("Next %d, want %d", l.Next(), len(want)+1)
	}
}

func dataOf(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
	}
	return out
}

func TestAppendFailureRecovers(t *testing.T) {
	eio := syscall.EIO
	tests := []struct {
		name string
		// fault arms the failure before the failing append.
		fault func(f *FaultFS)
		// failures is how many appends in a row fail before one succeeds
		// with the fault still armed; -1: all fail until the fault clears.
		failures int
		want     error
		// roll makes the failing append the first of a new segment.
		roll bool
	}{
		{"disk full mid-write", func(f *FaultFS) { f.SetFree(100) }, -1, syscall.ENOSPC, false},
		{"disk full, nothing fits", func(f *FaultFS) { f.SetFree(0) }, -1, syscall.ENOSPC, false},
		{"disk full on a new segment", func(f *FaultFS) { f.SetFree(60) }, -1, syscall.ENOSPC, true},
		{"fsync fails once", func(f *FaultFS) { f.Fail(Rule{Op: OpSync, Times: 1, Err: eio}) }, 1, eio, false},
		{"fsync fails on a new segment", func(f *FaultFS) { f.Fail(Rule{Op: OpSync, Times: 1, Err: eio}) }, 1, eio, true},
		{"write error once", func(f *FaultFS) { f.Fail(Rule{Op: OpWrite, Times: 1, Err: eio}) }, 1, eio, false},
		{"segment create fails", func(f *FaultFS) { f.Fail(Rule{Op: OpCreate, Times: 1, Err: syscall.ENOSPC}) }, 1, syscall.ENOSPC, true},
		{"directory sync fails", func(f *FaultFS) { f.Fail(Rule{Op: OpSyncDir, Times: 1, Err: eio}) }, 1, eio, true},
		{
			// The cut of the failed batch fails too: appends are refused
			// (with the original cause) until a retried cut succeeds.
			"fsync and two truncations fail",
			func(f *FaultFS) {
				f.Fail(Rule{Op: OpSync, Times: 1, Err: eio})
				f.Fail(Rule{Op: OpTruncate, Times: 2, Err: eio})
			},
			2, eio, false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := NewFaultFS()
			opts := Options{FS: ffs, SegmentBytes: 1 << 20, IndexEvery: 256}
			if tc.roll {
				opts.SegmentBytes = 1024
			}
			l, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			ack := func(prefix string, n int) {
				t.Helper()
				es := entries(prefix, n)
				first, _, err := l.Append(es).Wait()
				if err != nil {
					t.Fatalf("append %s: %v", prefix, err)
				}
				if first != uint64(len(want)+1) {
					t.Fatalf("append %s got counter %d, want %d", prefix, first, len(want)+1)
				}
				for _, e := range es {
					want = append(want, string(e.Data))
				}
			}
			// Enough to fill the first segment when tc.roll.
			ack("before", 40)
			tc.fault(ffs)
			for i := 0; tc.failures < 0 || i < tc.failures; i++ {
				_, _, err := l.Append(entries(fmt.Sprintf("failed%d", i), 10)).Wait()
				if !errors.Is(err, tc.want) {
					t.Fatalf("failing append %d: err %v, want %v", i, err, tc.want)
				}
				// Readers never see a failed append, and the log is still
				// readable while it refuses writes.
				checkExactly(t, l, want)
				if tc.failures < 0 && i == 2 {
					break
				}
			}
			if tc.failures < 0 {
				ffs.Clear() // space returns
			}
			// One record the size of a failed one: were the failed batch's
			// bytes left behind, its second frame would start right where
			// this one ends, with the next counter, and Open would serve it.
			ack("after_0", 1)
			checkExactly(t, l, want)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			// The failed appends stay gone across a reopen on the plain OS.
			l, err = Open(dir, Options{SegmentBytes: opts.SegmentBytes, IndexEvery: 256})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			checkExactly(t, l, want)
			ack("reopened", 3)
			checkExactly(t, l, want)
		})
	}
}

// TestConcurrentAppendFailures: with faults firing while many producers
// share group commits, each append's outcome is exact: what was
// acknowledged is readable once, in its producer's order, and nothing of
// what failed ever is.
func TestConcurrentAppendFailures(t *testing.T) {
	dir := t.TempDir()
	ffs := NewFaultFS()
	l, err := Open(dir, Options{FS: ffs, SegmentBytes: 8 << 10, IndexEvery: 512})
	if err != nil {
		t.Fatal(err)
	}
	ffs.Fail(Rule{Op: OpSync, Skip: 3, Times: 4, Err: syscall.EIO})
	ffs.Fail(Rule{Op: OpWrite, Skip: 10, Times: 3, Err: syscall.ENOSPC})
	ffs.Fail(Rule{Op: OpTruncate, Skip: 1, Times: 1, Err: syscall.EIO})
	var mu sync.Mutex
	acked := map[string]bool{}
	failed := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range 30 {
				es := entries(fmt.Sprintf("w%d-b%02d", w, b), 3)
				_, _, err := l.Append(es).Wait()
				mu.Lock()
				for _, e := range es {
					if err == nil {
						acked[string(e.Data)] = true
					} else {
						failed[string(e.Data)] = true
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) == 0 || len(acked) == 0 {
		t.Fatalf("%d acked, %d failed: the faults should fail some appends and not others", len(acked), len(failed))
	}
	check := func(l *Log) {
		t.Helper()
		got := readAll(t, l)
		last := map[string]string{}
		for i, r := range got {
			d := string(r.Data)
			if failed[d] || !acked[d] {
				t.Fatalf("record %q served: it was not acknowledged", d)
			}
			if r.Counter != uint64(i+1) {
				t.Fatalf("counter %d at position %d: counters must stay consecutive", r.Counter, i)
			}
			w := d[:strings.Index(d, "-")]
			if d <= last[w] {
				t.Fatalf("%q after %q: producer order broken", d, last[w])
			}
			last[w] = d
		}
		if len(got) != len(acked) {
			t.Fatalf("%d records readable, %d acknowledged", len(got), len(acked))
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = Open(dir, Options{SegmentBytes: 8 << 10, IndexEvery: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	check(l)
}

// TestCrashAfterFailedAppend: the process dies after an append failed and
// its cleanup failed too. The next Open must still serve exactly the
// acknowledged records and accept appends.
func TestCrashAfterFailedAppend(t *testing.T) {
	tests := []struct {
		name string
		// free is the space left for the failing append's write.
		free  int64
		fault func(f *FaultFS)
	}{
		{
			// Whole frames of the failed batch reached the file; the
			// truncation failed, so the zero header written at the
			// committed end is what hides them from Open.
			name: "complete frames of a failed batch, truncate fails",
			free: 100,
			fault: func(f *FaultFS) {
				f.Fail(Rule{Op: OpTruncate, Err: syscall.EIO})
			},
		},
		{
			// Only part of one frame reached the file and neither cleanup
			// worked: Open drops the torn frame by its length and checksum.
			name: "torn frame, truncate and overwrite fail",
			free: 20,
			fault: func(f *FaultFS) {
				f.Fail(Rule{Op: OpTruncate, Err: syscall.EIO})
				f.Fail(Rule{Op: OpWrite, Skip: 1, Err: syscall.EIO})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ffs := NewFaultFS()
			l, err := Open(dir, Options{FS: ffs, IndexEvery: 256})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range 3 {
				es := entries(fmt.Sprintf("acked%d", i), 5)
				if _, _, err := l.Append(es).Wait(); err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					want = append(want, string(e.Data))
				}
			}
			seg := l.Segments()[0]
			before, _ := os.Stat(seg)
			ffs.SetFree(tc.free)
			tc.fault(ffs)
			_, _, err = l.Append(entries("failed", 10)).Wait()
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("failing append: %v, want ENOSPC", err)
			}
			// Still refusing: the failed batch's bytes could not be cut.
			if _, _, err := l.Append(entries("refused", 1)).Wait(); err == nil {
				t.Fatal("append accepted while a failed batch's bytes are still in the segment")
			}
			after, _ := os.Stat(seg)
			if after.Size() <= before.Size() {
				t.Fatalf("segment %d bytes after the failure, %d before: the test needs leftover bytes", after.Size(), before.Size())
			}
			l.abandon()

			l, err = Open(dir, Options{IndexEvery: 256})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			checkExactly(t, l, want)
			if st, _ := os.Stat(seg); st.Size() != before.Size() {
				t.Fatalf("segment is %d bytes after recovery, want the committed %d", st.Size(), before.Size())
			}
			es := entries("after", 2)
			if first, _, err := l.Append(es).Wait(); err != nil || first != uint64(len(want)+1) {
				t.Fatalf("append after recovery: counter %d, %v", first, err)
			}
			checkExactly(t, l, append(want, string(es[0].Data), string(es[1].Data)))
		})
	}
}
