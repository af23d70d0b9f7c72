package runtime

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// MaxLogLineBytes bounds one log line. A function that writes without
// newlines gets its output split into lines of this size instead of
// buffered whole (CloudWatch Logs caps an event at 256 KiB too).
const MaxLogLineBytes = 256 << 10

// InvocationLogLimiter is implemented by a Config.Logs writer that bounds
// how much one invocation may log: past InvocationLogLimit bytes (request
// ID prefixes included) the rest of the invocation's output is dropped and
// one line says how much was. A limit of 0 means no limit. Without the
// bound one chatty invocation can fill the disk.
type InvocationLogLimiter interface {
	InvocationLogLimit() int64
}

// lineWriter prefixes every line a function writes with its request ID, so
// the logs of concurrent invocations stay attributable (Lambda's log format
// puts the request ID on every line too). It writes each line to dst in one
// Write call, so a dst that serialises its writes never interleaves lines.
type lineWriter struct {
	mu        sync.Mutex
	dst       io.Writer
	requestID string
	partial   []byte
	buf       []byte // reused for prefix + line
	maxLine   int
	// limit is the invocation's byte budget (0: none), used what it has
	// written so far; dropped counts the function's bytes thrown away since
	// the budget ran out.
	limit, used, dropped int64
	exhausted            bool
}

func newLineWriter(dst io.Writer, requestID string) *lineWriter {
	w := &lineWriter{dst: dst, requestID: requestID, maxLine: MaxLogLineBytes}
	if l, ok := dst.(InvocationLogLimiter); ok {
		w.limit = l.InvocationLogLimit()
	}
	return w
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.dst == nil {
		return len(p), nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		if w.exhausted {
			w.dropped += int64(len(p))
			break
		}
		// Look for a newline only as far as the line may still grow, so a
		// huge write without one costs linear time, not quadratic.
		seg := p[:min(len(p), w.maxLine-len(w.partial))]
		if i := bytes.IndexByte(seg, '\n'); i >= 0 {
			seg = seg[:i+1]
		}
		w.partial = append(w.partial, seg...)
		p = p[len(seg):]
		if w.partial[len(w.partial)-1] == '\n' || len(w.partial) >= w.maxLine {
			w.emit(w.partial)
			w.partial = w.partial[:0]
		}
	}
	return n, nil
}

// emit writes one line (adding its newline if it has none) if the
// invocation's budget allows it; once a line does not fit, the budget is
// spent and everything after it is dropped too, so the log never shows a
// gap followed by more output.
func (w *lineWriter) emit(line []byte) {
	cost := int64(len(w.requestID) + 1 + len(line))
	if line[len(line)-1] != '\n' {
		cost++
	}
	if w.limit > 0 && (w.exhausted || w.used+cost > w.limit) {
		w.exhausted = true
		w.dropped += int64(len(line))
		return
	}
	w.used += cost
	buf := append(append(append(w.buf[:0], w.requestID...), '\t'), line...)
	if buf[len(buf)-1] != '\n' {
		buf = append(buf, '\n')
	}
	_, _ = w.dst.Write(buf)
	w.buf = buf
}

// Flush writes an unterminated last line and, if the invocation's budget
// ran out, the line saying how much of its output was dropped.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dst == nil {
		return
	}
	if len(w.partial) > 0 {
		w.emit(w.partial)
	}
	w.partial = nil
	if w.dropped > 0 {
		note := fmt.Sprintf("%s\t[sluice] dropped %s of output past the %s per-invocation log cap\n",
			w.requestID, formatBytes(w.dropped), formatBytes(w.limit))
		_, _ = io.WriteString(w.dst, note)
		w.dropped = 0
	}
}

// formatBytes renders n in binary units: "512 B", "1 MiB", "63.0 MiB".
func formatBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(1024), 0
	for m := n / 1024; m >= 1024 && exp < len(units)-1; m /= 1024 {
		div *= 1024
		exp++
	}
	if n%div == 0 {
		return fmt.Sprintf("%d %ciB", n/div, units[exp])
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), units[exp])
}
