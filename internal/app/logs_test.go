package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/sdk/host"
)

// logDir lists the logs directory, so tests can check that a function
// never has more than its file and one rotated file.
func logDir(t *testing.T, state string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(state, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLogFileRotatesAtCap: past the cap the file moves to .1 (replacing the
// older one), so two files hold the newest lines in order, each within the
// cap; a restart counts the file it finds.
func TestLogFileRotatesAtCap(t *testing.T) {
	state := t.TempDir()
	path := LogPath(state, "Fn")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, bytes.Repeat([]byte("old line\n"), 400), 0o644) // 3600 of 4096 bytes
	var files logFiles
	defer files.close()
	f, err := files.open(state, "Fn", logCaps{FileBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for n := range 1000 {
		fmt.Fprintf(f, "line %04d\n", n)
	}
	// 3600 + 49 lines fill the old file; then 409 lines (4090 bytes) a file.
	if names := logDir(t, state); strings.Join(names, " ") != "Fn.log Fn.log.1" {
		t.Fatalf("logs dir holds %v, want Fn.log and Fn.log.1", names)
	}
	var want strings.Builder
	for n := 49 + 409; n < 1000; n++ {
		fmt.Fprintf(&want, "line %04d\n", n)
	}
	prev, cur := readFile(t, RotatedLogPath(state, "Fn")), readFile(t, path)
	if prev+cur != want.String() || len(prev) > 4096 || len(cur) > 4096 {
		t.Errorf("rotated %d bytes + current %d bytes are not lines %d..999:\n%.60q...\n%.60q...", len(prev), len(cur), 49+409, prev, cur)
	}
}

var logLine = regexp.MustCompile(`^([0-9a-f-]{36})\t(req [0-9a-f-]{36}) line (\d+) x+$`)

// TestLogFileConcurrentInvocations: invocations of two generations write at
// once through the runtime while the file rotates; every line stays whole,
// carries its own request ID and comes in its invocation's order, and no
// more than two files exist.
func TestLogFileConcurrentInvocations(t *testing.T) {
	state := t.TempDir()
	var files logFiles
	defer files.close()
	handler := func(ctx context.Context, _ json.RawMessage) error {
		lc, _ := lambdacontext.FromContext(ctx)
		for n := range 200 {
			sdk.Logf(ctx, "req %s line %d %s", lc.AwsRequestID, n, strings.Repeat("x", 60))
		}
		return nil
	}
	var wg sync.WaitGroup
	for range 2 { // generations: each opens the function's log again
		f, err := files.open(state, "Fn", logCaps{FileBytes: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		fn, err := runtime.New(runtime.Config{Name: "Fn", Timeout: time.Minute, Logs: f}, handler)
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			wg.Go(func() {
				if _, err := fn.Invoke(context.Background(), []byte(`{}`)); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if names := logDir(t, state); len(names) != 2 {
		t.Fatalf("logs dir holds %v, want Fn.log and Fn.log.1", names)
	}
	prev, cur := readFile(t, RotatedLogPath(state, "Fn")), readFile(t, LogPath(state, "Fn"))
	if len(prev) > 64<<10 || len(cur) > 64<<10 {
		t.Errorf("files of %d and %d bytes, cap %d", len(prev), len(cur), 64<<10)
	}
	last := map[string]int{}
	for _, line := range strings.Split(strings.TrimSuffix(prev+cur, "\n"), "\n") {
		m := logLine.FindStringSubmatch(line)
		if m == nil || "req "+m[1] != m[2] {
			t.Fatalf("mangled line %q", line)
		}
		n, _ := strconv.Atoi(m[3])
		if seen, ok := last[m[1]]; ok && n != seen+1 {
			t.Fatalf("request %s: line %d after %d", m[1], n, seen)
		}
		last[m[1]] = n
	}
}

// TestFunctionLogsBoundedEndToEnd: invocations that each write 64 MiB
// through the runtime leave at most the per-invocation cap plus a note
// each, in at most two files within the file cap.
func TestFunctionLogsBoundedEndToEnd(t *testing.T) {
	state := t.TempDir()
	var files logFiles
	defer files.close()
	caps := logCaps{FileBytes: 3 << 20, InvokeBytes: 1 << 20}
	f, err := files.open(state, "Chatty", caps)
	if err != nil {
		t.Fatal(err)
	}
	chunk := append(bytes.Repeat([]byte("y"), 64<<10-1), '\n')
	fn, err := runtime.New(runtime.Config{Name: "Chatty", Timeout: time.Minute, Logs: f}, func(ctx context.Context, _ json.RawMessage) error {
		w := host.Log(ctx)
		for range 1024 {
			w.Write(chunk)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := fn.Invoke(context.Background(), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if names := logDir(t, state); len(names) != 2 {
		t.Fatalf("logs dir holds %v, want Chatty.log and Chatty.log.1", names)
	}
	prev, cur := readFile(t, RotatedLogPath(state, "Chatty")), readFile(t, LogPath(state, "Chatty"))
	if len(prev) > 3<<20 || len(cur) > 3<<20 {
		t.Errorf("files of %d and %d bytes, cap %d", len(prev), len(cur), 3<<20)
	}
	// 15 lines of 64 KiB and a 37-byte prefix fit in 1 MiB; 1009 do not.
	note := "[sluice] dropped 63.1 MiB of output past the 1 MiB per-invocation log cap\n"
	if !strings.HasSuffix(cur, note) {
		t.Errorf("the log does not end with the note %q: ...%q", note, cur[max(0, len(cur)-200):])
	}
	if n := strings.Count(prev+cur, note); n < 2 {
		t.Errorf("%d notes in the two files, want one per invocation they hold", n)
	}
}
