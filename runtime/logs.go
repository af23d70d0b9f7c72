package runtime

import (
	"bytes"
	"io"
	"sync"
)

// lineWriter prefixes every line a function writes with its request ID, so
// the logs of concurrent invocations stay attributable (Lambda's log format
// puts the request ID on every line too).
type lineWriter struct {
	mu        sync.Mutex
	dst       io.Writer
	requestID string
	partial   []byte
}

func newLineWriter(dst io.Writer, requestID string) *lineWriter {
	return &lineWriter{dst: dst, requestID: requestID}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	if w.dst == nil {
		return len(p), nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.emit(w.partial[:i+1])
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) emit(line []byte) {
	buf := make([]byte, 0, len(w.requestID)+1+len(line))
	buf = append(append(append(buf, w.requestID...), '\t'), line...)
	_, _ = w.dst.Write(buf)
}

// Flush writes an unterminated last line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dst != nil && len(w.partial) > 0 {
		w.emit(append(w.partial, '\n'))
	}
	w.partial = nil
}
