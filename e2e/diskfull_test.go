package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/harness"
)

// smallFS mounts a tmpfs of size bytes: a real file system that fills up.
// It needs root (as CI has); elsewhere the test is skipped with the reason.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes zeros to path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zeros := make([]byte, 1<<20)
	for {
		if _, err := f.Write(zeros); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

// TestDiskFullRefusesWritesAndLosesNothing runs sluice with its state dir on
// a small real file system, fills it while clicks flow, and checks that
// writes are refused with a clear error, that no acknowledged record is
// lost, and that after space returns (and a restart: a shard log that failed
// a write refuses further writes until reopened, because it cannot vouch
// for what reached the disk) every acknowledged click is delivered.
func TestDiskFullRefusesWritesAndLosesNothing(t *testing.T) {
	fs := smallFS(t, "96m")
	state := filepath.Join(fs, "state")
	addr := freeAddr(t)
	s := startSluice(t, state, addr)
	acked := filepath.Join(t.TempDir(), "acked")
	gen := generate(t, "http://"+addr, 8000, acked, "-rate", "2000", "-max-retries", "200")
	waitLines(t, acked, 1000)

	filler := filepath.Join(fs, "filler")
	fill(t, filler)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(s.Log(), "no space left on device") {
		if time.Now().After(deadline) {
			t.Fatalf("a full disk produced no clear error in a minute:\n%s", s.Log())
		}
		time.Sleep(50 * time.Millisecond) // polling another process's log
	}
	before, _ := harness.ReadLines(acked)
	t.Logf("disk full with %d records acknowledged; sluice says: %s", len(before), firstLine(s.Log(), "no space left on device"))

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	s = startSluice(t, state, addr)
	if err := gen.Wait(); err != nil {
		t.Fatalf("generator: %v\n%s", err, gen.Stderr)
	}
	drain(t, s, state)

	ids, _ := harness.ReadLines(acked)
	seen, err := harness.Delivered(filepath.Join(state, "buckets", "clickstream-archive"))
	if err != nil {
		t.Fatal(err)
	}
	lost := harness.Missing(ids, seen)
	t.Logf("acknowledged %d, delivered %d distinct, lost %d", len(ids), len(seen), lost)
	if lost > 0 {
		t.Fatalf("%d acknowledged records lost to a full disk", lost)
	}
}

func firstLine(log, substr string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}
