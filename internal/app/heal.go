package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/internal/clock"
)

// A delivery stream's write-ahead log refuses every write after one failed
// (a full disk, an I/O error): after a failed write or fsync it cannot vouch
// for what reached the disk, and only reading the disk back — reopening —
// tells. The storage supervisor below does that reopening without a restart
// of the process: when a mapping's sink reports a storage failure it waits
// until the state dir takes a test write again, then restarts the pipeline
// generation (as a deploy does). Each delivery stream recovers its log from
// disk, dropping a torn tail; each mapping resumes from its checkpoint, which
// never passed a batch the sink had not durably taken, and the replayed
// batches rewrite the same deterministic objects. The embedded stream's shard
// logs recover in place (internal/seglog).

// storageErrnos are the errors that mean "the disk refused", as opposed to
// a bug or a closed stream.
var storageErrnos = []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS}

func isStorageFault(err error) bool {
	for _, e := range storageErrnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// faultReporting passes batches to a sink and reports storage failures.
type faultReporting struct {
	handover.Acceptor
	report func(error)
}

func (f faultReporting) Accept(ctx context.Context, b handover.Batch) error {
	err := f.Acceptor.Accept(ctx, b)
	if err != nil && isStorageFault(err) {
		f.report(err)
	}
	return err
}

// reportStorageFault wakes the supervisor; it never blocks a mapping.
func (i *instance) reportStorageFault(err error) {
	select {
	case i.storageFault <- err:
	default: // already reported
	}
}

// superviseStorage restarts the generation after a storage failure, once
// the state dir accepts writes again.
func (i *instance) superviseStorage(ctx context.Context) {
	for {
		var cause error
		select {
		case <-ctx.Done():
			return
		case cause = <-i.storageFault:
		}
		i.log.Error("the state dir refused a write; the pipeline waits for it to accept writes again, then reopens its logs", "err", cause)
		for backoff := 250 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			if err := probeWritable(filepath.Join(i.stateDir, "tmp")); err == nil {
				if err = i.restartGeneration(ctx); err == nil {
					break
				}
				i.log.Error("reopening the pipeline failed; retrying", "err", err)
			}
			// Waiting for space, not for an event.
			if clock.Sleep(ctx, i.clock, backoff) != nil {
				return
			}
		}
		select { // reports from the old generation's last moments are stale
		case <-i.storageFault:
		default:
		}
	}
}

// restartGeneration stops the running generation and starts it again:
// its delivery streams reopen their logs from disk, its mappings resume from
// their checkpoints, with the same functions.
func (i *instance) restartGeneration(ctx context.Context) error {
	i.genMu.Lock()
	defer i.genMu.Unlock()
	g := i.gen
	g.stop()
	if err := i.activate(context.WithoutCancel(ctx), g); err != nil {
		return err
	}
	i.log.Info("the state dir accepts writes again; pipeline reopened", "generation", g.number)
	return nil
}

// probeWritable writes and fsyncs a 1 MiB file in dir and removes it: the
// state dir has room for at least a batch again.
func probeWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".space-probe-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		return fmt.Errorf("probe write: %w", err)
	}
	return f.Sync()
}
