package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// notifyBuffer is a concurrency-safe buffer that signals every write, so a
// test waits for output instead of sleeping.
type notifyBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{}
}

func (b *notifyBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *notifyBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		b.mu.Lock()
		got := b.buf.String()
		b.mu.Unlock()
		if got == want {
			return
		}
		select {
		case <-b.wrote:
		case <-deadline:
			t.Fatalf("printed %q, want %q", got, want)
		}
	}
}

// TestLogsFollowAcrossRotation: --follow moves to the new file when the
// one it follows is renamed away, even when the new one is already longer
// than what it had read, and prints the lines written to the old file just
// before the rotation.
func TestLogsFollowAcrossRotation(t *testing.T) {
	state := t.TempDir()
	path, rotated := LogPath(state, "Enrich"), RotatedLogPath(state, "Enrich")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte("r1\tone\n"), 0o644)
	out := &notifyBuffer{wrote: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- printLogs(ctx, clock.Real(), path, rotated, out, true) }()
	out.waitFor(t, "r1\tone\n")

	appendTo(t, path, "r1\ttwo\n")
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, "r2\ta line longer than everything before it\n")
	out.waitFor(t, "r1\tone\nr1\ttwo\nr2\ta line longer than everything before it\n")
	appendTo(t, path, "r3\tthree\n")
	out.waitFor(t, "r1\tone\nr1\ttwo\nr2\ta line longer than everything before it\nr3\tthree\n")

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}
