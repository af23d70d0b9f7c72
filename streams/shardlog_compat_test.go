package streams

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// testdata/shardlog-v1 is one shard's log as the release before
// internal/seglog wrote it, with small segments so it has sealed segments
// (and their index sidecars) as well as the active one. The format did not
// change; this proves it. (TestWriteShardLogFixture wrote it with the
// shardlog package of that release; it now writes the same bytes through
// the code that replaced it.)

func fixtureShardRecord(i int) string { return fmt.Sprintf("record-%03d", i) }

func TestWriteShardLogFixture(t *testing.T) {
	if os.Getenv(fixtureEnv) == "" {
		return
	}
	dir := filepath.Join("testdata", "shardlog-v1")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(fixtureTime)
	l, err := openShardLog(dir, shardLogOptions{SegmentBytes: 512, IndexEvery: 100, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		clk.Advance(fixtureTime.Add(time.Duration(i) * time.Second).Sub(clk.Now()))
		if _, _, err := l.Append([]shardEntry{{Key: fmt.Sprint(i % 3), Data: []byte(fixtureShardRecord(i))}}).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenShardLogFromPreviousRelease(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "shardlog-v1"))); err != nil {
		t.Fatal(err)
	}
	l, err := openShardLog(dir, shardLogOptions{SegmentBytes: 512, IndexEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n := len(l.Segments()); n < 3 {
		t.Fatalf("fixture has %d segments; it should have sealed ones", n)
	}
	if l.Next() != 101 {
		t.Fatalf("Next = %d, want 101", l.Next())
	}
	pos := uint64(0)
	for i := 0; i < 100; {
		recs, next, err := l.Read(pos, 0, 9, 1<<20, nil)
		if err != nil || len(recs) == 0 {
			t.Fatalf("read at %d: %d records, %v", pos, len(recs), err)
		}
		for _, r := range recs {
			if r.Counter != uint64(i+1) || string(r.Data) != fixtureShardRecord(i) || r.Key != fmt.Sprint(i%3) ||
				r.ArrivalMillis != fixtureTime.Add(time.Duration(i)*time.Second).UnixMilli() {
				t.Fatalf("record %d: %+v", i, r)
			}
			i++
		}
		pos = next
	}
	first, err := l.SeekTime(fixtureTime.Add(50 * time.Second).UnixMilli())
	if err != nil || first != 51 {
		t.Fatalf("SeekTime = %d, %v; want 51", first, err)
	}
	if _, _, err := l.Append([]shardEntry{{Key: "k", Data: []byte("after")}}).Wait(); err != nil {
		t.Fatal(err)
	}
	if l.Next() != 102 {
		t.Fatalf("Next after append = %d, want 102", l.Next())
	}
}
