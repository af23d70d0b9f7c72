package seglog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The log's crash and storage-failure tests: a failed append fails
// exactly the appends of its group commit, leaves nothing of them
// readable (now or after a reopen), keeps every acknowledged frame, and
// the log accepts appends again once the fault clears, without a restart.
// A crash at any point leaves what was acknowledged and nothing else.
//
// They run on counterLog, a consumer numbering frames the way the shard
// log does (consecutive counters, a failed append's numbers reused), so
// "exactly the acknowledged frames" is checkable.

// Record is one frame of a counterLog.
type Record struct {
	Counter uint64
	Data    []byte
}

// counterLog stores records as frames of body counter u64 | data.
type counterLog struct {
	*Log
	appendNext uint64 // under the log's append lock

	mu      sync.Mutex
	next    uint64 // counter after the last durable record
	durable []framePos
	pend    []framePos
}

type framePos struct {
	end     uint64
	counter uint64
	pos     Pos
	n       int
}

func openCounterLog(dir string, opts Options) (*counterLog, error) {
	c := &counterLog{next: 1}
	opts.NextID = func() uint64 { return c.appendNext }
	opts.Visit = func(f Frame) error {
		if len(f.Body) < 8 {
			return ErrInvalid
		}
		n := binary.LittleEndian.Uint64(f.Body)
		if n < c.next {
			return ErrInvalid
		}
		c.durable = append(c.durable, framePos{counter: n, pos: Pos{f.Seg, f.Off}, n: len(f.Body)})
		c.next = n + 1
		return nil
	}
	opts.OnDurable = func(end uint64) {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := sort.Search(len(c.pend), func(i int) bool { return c.pend[i].end > end })
		for _, p := range c.pend[:i] {
			c.durable = append(c.durable, p)
			c.next = p.counter + 1
		}
		c.pend = append(c.pend[:0], c.pend[i:]...)
	}
	opts.OnDiscard = func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.pend = c.pend[:0]
		c.appendNext = c.next
	}
	l, err := Open(dir, opts)
	if err != nil {
		return nil, err
	}
	for _, s := range l.Segments() {
		c.next = max(c.next, s.ID)
	}
	c.appendNext = c.next
	c.Log = l
	return c, nil
}

// Append appends records with consecutive counters and waits until they
// are durable; it returns the first counter.
func (c *counterLog) Append(data []string) (uint64, error) {
	size := 0
	for _, d := range data {
		size += FrameHeader + 8 + len(d)
	}
	var first uint64
	end, err := c.Log.Append(size, func(a *Appender) {
		first = c.appendNext
		c.mu.Lock()
		start := len(c.pend)
		for _, d := range data {
			b, pos := a.Frame(8 + len(d))
			binary.LittleEndian.PutUint64(b, c.appendNext)
			copy(b[8:], d)
			c.pend = append(c.pend, framePos{counter: c.appendNext, pos: pos, n: len(b)})
			c.appendNext++
		}
		for i := start; i < len(c.pend); i++ {
			c.pend[i].end = a.End()
		}
		c.mu.Unlock()
	})
	if err != nil {
		return first, err
	}
	return first, c.Sync(end)
}

// Next is the counter after the last durable record.
func (c *counterLog) Next() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next
}

// readAll reads back every durable record through ReadAt.
func readAll(t *testing.T, c *counterLog) []Record {
	t.Helper()
	c.mu.Lock()
	frames := append([]framePos(nil), c.durable...)
	c.mu.Unlock()
	var out []Record
	for _, f := range frames {
		b := make([]byte, f.n+FrameHeader)
		if _, err := c.ReadAt(f.pos.Seg, b, f.pos.Off-FrameHeader); err != nil {
			t.Fatalf("read frame at %+v: %v", f.pos, err)
		}
		if Checksum(b[FrameHeader:]) != binary.LittleEndian.Uint32(b[4:]) {
			t.Fatalf("frame at %+v: checksum mismatch", f.pos)
		}
		out = append(out, Record{Counter: binary.LittleEndian.Uint64(b[FrameHeader:]), Data: b[FrameHeader+8:]})
	}
	return out
}

func entries(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

// checkExactly asserts the log holds exactly want, in order, with
// consecutive counters from 1: acknowledged records once each and nothing
// of a failed append.
func checkExactly(t *testing.T, l *counterLog, want []string) {
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
			opts := Options{FS: ffs, SegmentBytes: 1 << 20}
			if tc.roll {
				opts.SegmentBytes = 1024
			}
			l, err := openCounterLog(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			ack := func(prefix string, n int) {
				t.Helper()
				es := entries(prefix, n)
				first, err := l.Append(es)
				if err != nil {
					t.Fatalf("append %s: %v", prefix, err)
				}
				if first != uint64(len(want)+1) {
					t.Fatalf("append %s got counter %d, want %d", prefix, first, len(want)+1)
				}
				for _, e := range es {
					want = append(want, e)
				}
			}
			// Enough to fill the first segment when tc.roll.
			ack("before", 40)
			tc.fault(ffs)
			for i := 0; tc.failures < 0 || i < tc.failures; i++ {
				_, err := l.Append(entries(fmt.Sprintf("failed%d", i), 10))
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
			l, err = openCounterLog(dir, Options{SegmentBytes: opts.SegmentBytes})
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
	l, err := openCounterLog(dir, Options{FS: ffs, SegmentBytes: 8 << 10})
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
				_, err := l.Append(es)
				mu.Lock()
				for _, e := range es {
					if err == nil {
						acked[e] = true
					} else {
						failed[e] = true
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
	check := func(l *counterLog) {
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
	l, err = openCounterLog(dir, Options{SegmentBytes: 8 << 10})
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
			l, err := openCounterLog(dir, Options{FS: ffs})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range 3 {
				es := entries(fmt.Sprintf("acked%d", i), 5)
				if _, err := l.Append(es); err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					want = append(want, e)
				}
			}
			seg := l.Segments()[0].Path
			before, _ := os.Stat(seg)
			ffs.SetFree(tc.free)
			tc.fault(ffs)
			_, err = l.Append(entries("failed", 10))
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("failing append: %v, want ENOSPC", err)
			}
			// Still refusing: the failed batch's bytes could not be cut.
			if _, err := l.Append(entries("refused", 1)); err == nil {
				t.Fatal("append accepted while a failed batch's bytes are still in the segment")
			}
			after, _ := os.Stat(seg)
			if after.Size() <= before.Size() {
				t.Fatalf("segment %d bytes after the failure, %d before: the test needs leftover bytes", after.Size(), before.Size())
			}
			l.Abandon()

			l, err = openCounterLog(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			checkExactly(t, l, want)
			if st, _ := os.Stat(seg); st.Size() != before.Size() {
				t.Fatalf("segment is %d bytes after recovery, want the committed %d", st.Size(), before.Size())
			}
			es := entries("after", 2)
			if first, err := l.Append(es); err != nil || first != uint64(len(want)+1) {
				t.Fatalf("append after recovery: counter %d, %v", first, err)
			}
			checkExactly(t, l, append(want, es...))
		})
	}
}

// TestTornTailCut: what a crash mid-write leaves at the end of the newest
// segment (a partial frame, garbage, a zeroed header) is cut at Open, and
// appends continue right after the last intact frame.
func TestTornTailCut(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail func(size int64) (data []byte, at int64)
	}{
		{"partial frame", func(size int64) ([]byte, int64) { return []byte{40, 0, 0, 0, 1, 2}, size }},
		{"garbage", func(size int64) ([]byte, int64) { return []byte("not a frame at all, just bytes"), size }},
		{"bad checksum", func(size int64) ([]byte, int64) {
			return []byte{12, 0, 0, 0, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, size
		}},
		{"zeroed header", func(size int64) ([]byte, int64) { return make([]byte, 64), size }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := openCounterLog(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := entries("acked", 5)
			if _, err := l.Append(want); err != nil {
				t.Fatal(err)
			}
			seg := l.Segments()[0]
			l.Close()
			data, at := tc.tail(seg.Size)
			f, err := os.OpenFile(seg.Path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt(data, at)
			f.Close()

			l, err = openCounterLog(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if st, _ := os.Stat(seg.Path); st.Size() != seg.Size {
				t.Fatalf("segment is %d bytes after recovery, want %d", st.Size(), seg.Size)
			}
			checkExactly(t, l, want)
			more := entries("after", 2)
			if _, err := l.Append(more); err != nil {
				t.Fatal(err)
			}
			checkExactly(t, l, append(want, more...))
		})
	}
}

// TestDamageBeforeNewestSegment: damage in a sealed segment is not a crash
// tail. By default Open refuses the log; with RepairSealed it cuts the
// segment at its last intact frame and opens.
func TestDamageBeforeNewestSegment(t *testing.T) {
	dir := t.TempDir()
	l, err := openCounterLog(dir, Options{SegmentBytes: 256})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := l.Append(entries(fmt.Sprint("r", i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	segs := l.Segments()
	l.Close()
	if len(segs) < 2 {
		t.Fatalf("%d segments; the test needs a sealed one", len(segs))
	}
	b, err := os.ReadFile(segs[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0xff // the last frame's body
	if err := os.WriteFile(segs[0].Path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openCounterLog(dir, Options{SegmentBytes: 256}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("open with a damaged sealed segment: %v, want an error naming the damage", err)
	}
	l, err = openCounterLog(dir, Options{SegmentBytes: 256, RepairSealed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if st, _ := os.Stat(segs[0].Path); st.Size() >= int64(len(b)) {
		t.Fatalf("damaged segment not cut: %d bytes", st.Size())
	}
}

// TestStopOnFailure: with StopOnFailure, a failed fsync fails its group and
// every later append and sync, until the log is reopened; the failed group
// is cut all the same, so the reopened log holds exactly what was
// acknowledged.
func TestStopOnFailure(t *testing.T) {
	dir := t.TempDir()
	ffs := NewFaultFS()
	l, err := openCounterLog(dir, Options{FS: ffs, StopOnFailure: true})
	if err != nil {
		t.Fatal(err)
	}
	want := entries("acked", 3)
	if _, err := l.Append(want); err != nil {
		t.Fatal(err)
	}
	ffs.Fail(Rule{Op: OpSync, Times: 1, Err: syscall.EIO})
	if _, err := l.Append(entries("failed", 2)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("append during the fault: %v, want EIO", err)
	}
	if _, err := l.Append(entries("refused", 1)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("append after the fault cleared: %v, want the sticky EIO", err)
	}
	if err := l.Remove(1); !errors.Is(err, syscall.EIO) {
		t.Fatalf("remove after a failure: %v, want the sticky EIO", err)
	}
	checkExactly(t, l, want)
	l.Close()
	l, err = openCounterLog(dir, Options{StopOnFailure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	checkExactly(t, l, want)
	more := entries("reopened", 2)
	if _, err := l.Append(more); err != nil {
		t.Fatal(err)
	}
	checkExactly(t, l, append(want, more...))
}

// TestConcurrentAppendsGroupCommit: concurrent appenders each get their
// frames durable and readable once, with never more fsyncs than appends
// (how many fewer depends on scheduling, so it is not asserted).
func TestConcurrentAppendsGroupCommit(t *testing.T) {
	ffs := NewFaultFS()
	l, err := openCounterLog(t.TempDir(), Options{FS: ffs})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const writers, appends = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range appends {
				if _, err := l.Append(entries(fmt.Sprintf("w%d-%03d", w, i), 1)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := readAll(t, l)
	if len(got) != writers*appends {
		t.Fatalf("%d frames read back, want %d", len(got), writers*appends)
	}
	if n := ffs.Calls(OpSync); n > writers*appends {
		t.Fatalf("%d fsyncs for %d appends", n, writers*appends)
	}
}
