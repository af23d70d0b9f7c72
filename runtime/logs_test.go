package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/sdk/host"
)

// limitedLog is a Config.Logs that asks for a per-invocation cap and
// records what reaches it.
type limitedLog struct {
	mu     sync.Mutex
	limit  int64
	out    bytes.Buffer
	writes int
	max    int // longest single Write
}

func (l *limitedLog) InvocationLogLimit() int64 { return l.limit }

func (l *limitedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	l.max = max(l.max, len(p))
	return l.out.Write(p)
}

// TestInvocationLogCap: an invocation that writes 64 MiB leaves at most the
// cap in the log, then one line saying how much was dropped.
func TestInvocationLogCap(t *testing.T) {
	line := append(bytes.Repeat([]byte("x"), 1023), '\n')
	for _, tc := range []struct {
		name  string
		write func(w *lineWriter)
	}{
		{"line by line", func(w *lineWriter) {
			for range 64 << 10 {
				w.Write(line)
			}
		}},
		{"one write", func(w *lineWriter) { w.Write(bytes.Repeat(line, 64<<10)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := &limitedLog{limit: 1 << 20}
			w := newLineWriter(dst, "req")
			tc.write(w)
			w.Flush()
			out := dst.out.String()
			lines := strings.SplitAfter(strings.TrimSuffix(out, "\n"), "\n")
			note := lines[len(lines)-1]
			// 1020 lines of 4+1024 bytes fit in 1 MiB; the other
			// 64516 KiB (63.0 MiB) are dropped.
			want := "req\t[sluice] dropped 63.0 MiB of output past the 1 MiB per-invocation log cap"
			if note != want {
				t.Errorf("last line %q, want %q", note, want)
			}
			if kept := len(out) - len(note) - 1; kept > 1<<20 || len(lines)-1 != 1020 {
				t.Errorf("kept %d bytes in %d lines, want at most %d in 1020", kept, len(lines)-1, 1<<20)
			}
			for _, l := range lines[:len(lines)-1] {
				if l != "req\t"+string(line) {
					t.Fatalf("line %.40q... is not a whole prefixed line", l)
				}
			}
		})
	}
}

// TestInvocationLogCapStopsAtFirstMiss: once a line does not fit, later
// (shorter) lines are dropped too, an unterminated tail counts as dropped,
// and a limit of 0 means none.
func TestInvocationLogCapStopsAtFirstMiss(t *testing.T) {
	dst := &limitedLog{limit: 20}
	w := newLineWriter(dst, "r")
	w.Write([]byte("hello\nthis line is too long\nok\ntail"))
	w.Flush()
	want := "r\thello\nr\t[sluice] dropped 29 B of output past the 20 B per-invocation log cap\n"
	if got := dst.out.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	dst = &limitedLog{}
	w = newLineWriter(dst, "r")
	w.Write(bytes.Repeat([]byte("y\n"), 1000))
	w.Flush()
	if got := dst.out.Len(); got != 4000 {
		t.Errorf("no limit: wrote %d bytes, want 4000", got)
	}
}

// TestLogLineIsBounded: 64 MiB without a newline is split into lines of
// MaxLogLineBytes as it arrives, never buffered whole.
func TestLogLineIsBounded(t *testing.T) {
	dst := &countingLog{}
	w := newLineWriter(dst, "req")
	chunk := bytes.Repeat([]byte("z"), 64<<10)
	for range 1024 {
		w.Write(chunk)
		if len(w.partial) >= MaxLogLineBytes {
			t.Fatalf("buffered %d bytes of one line", len(w.partial))
		}
	}
	w.Flush()
	lines := (64 << 20) / MaxLogLineBytes
	if dst.max > len("req\t")+MaxLogLineBytes+1 || dst.writes != lines || dst.n != int64(64<<20+lines*5) {
		t.Errorf("%d writes of at most %d bytes, %d in all; want %d lines of %d", dst.writes, dst.max, dst.n, lines, len("req\t")+MaxLogLineBytes+1)
	}
}

// countingLog is a Config.Logs without a per-invocation cap that keeps
// only counts, so a 64 MiB test does not hold 64 MiB.
type countingLog struct {
	n           int64
	writes, max int
}

func (c *countingLog) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	c.writes++
	c.max = max(c.max, len(p))
	return len(p), nil
}

// TestFunctionLogsAreCapped: a Function hands its Config.Logs cap to each
// invocation's log, and each invocation has its own budget.
func TestFunctionLogsAreCapped(t *testing.T) {
	dst := &limitedLog{limit: 64 << 10}
	fn, err := New(Config{Name: "Chatty", Timeout: time.Minute, Logs: dst}, func(ctx context.Context, _ json.RawMessage) error {
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, no newline
		host.Log(ctx).Write(big)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := fn.Invoke(context.Background(), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	out := dst.out.String()
	if n := strings.Count(out, "[sluice] dropped 1 MiB of output past the 64 KiB per-invocation log cap\n"); n != 2 || len(out) > 2*(1<<10) {
		t.Errorf("%d notes in %d bytes of log, want 2 notes and nothing else: %.200q", n, len(out), out)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 1 << 20: "1 MiB", 66064384: "63.0 MiB", 3 << 30: "3 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
