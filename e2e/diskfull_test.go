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
// lost, and that once space returns the same process resumes on its own:
// the shard logs cut back to their last durable entry and take writes again,
// the delivery streams' write-ahead logs are reopened from disk, and every
// acknowledged click is delivered without a restart.
func TestDiskFullRefusesWritesAndLosesNothing(t *testing.T) {
	fs := smallFS(t, "96m")
	state := filepath.Join(fs, "state")
	addr := freeAddr(t)
	s := startSluice(t, state, addr)
	acked := filepath.Join(t.TempDir(), "acked")
	// Unthrottled, so that the pipeline has a backlog when the disk fills:
	// the delivery streams' write-ahead logs hit the full disk too, not
	// only the stream's shard logs.
	gen := generate(t, "http://"+addr, 30000, acked, "-max-retries", "200")
	waitLines(t, acked, 10000)

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
	// No restart: the generator retries until the stream takes its puts again.
	if err := gen.Wait(); err != nil {
		t.Fatalf("generator: %v\n%s", err, gen.Stderr)
	}
	drain(t, s, state)

	ids, _ := harness.ReadLines(acked)
	seen, err := harness.Delivered(filepath.Join(state, "buckets", "clickstream-archive"))
	if err != nil {
		t.Fatal(err)
	}
	log := s.Log()
	if sinkFault := firstLine(log, "sink refused batch"); sinkFault != "" {
		reopened := firstLine(log, "pipeline reopened")
		if reopened == "" {
			t.Errorf("a sink refused a batch on the full disk but the pipeline never reopened:\n%s", log)
		}
		t.Logf("the sink hit the full disk too (%s) and recovered in place: %s", sinkFault[:min(len(sinkFault), 120)], reopened)
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
