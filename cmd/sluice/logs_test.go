package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app"
)

func TestLogsPrintsCapturedOutput(t *testing.T) {
	state := t.TempDir()
	path := app.LogPath(state, "Enrich")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte("req-1\thello\nreq-2\tworld\n"), 0o644)
	code, stdout, stderr := sluice(t, "", "logs", "Enrich", "--state-dir", state)
	if code != 0 || stdout != "req-1\thello\nreq-2\tworld\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = sluice(t, "", "logs", "Nope", "--state-dir", state)
	if code == 0 || !strings.Contains(stderr, "no logs for this function yet") {
		t.Errorf("unknown function: exit %d, stderr %q", code, stderr)
	}
}

// TestLogsPrintsRotatedThenCurrent: after a rotation the older lines are in
// <fn>.log.1; `sluice logs` prints them first.
func TestLogsPrintsRotatedThenCurrent(t *testing.T) {
	state := t.TempDir()
	path := app.LogPath(state, "Enrich")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(app.RotatedLogPath(state, "Enrich"), []byte("req-1\told\n"), 0o644)
	os.WriteFile(path, []byte("req-2\tnew\n"), 0o644)
	code, stdout, stderr := sluice(t, "", "logs", "Enrich", "--state-dir", state)
	if code != 0 || stdout != "req-1\told\nreq-2\tnew\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
