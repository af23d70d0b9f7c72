package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// LogPath is where `sluice up` appends a function's captured output.
func LogPath(stateDir, function string) string {
	return filepath.Join(stateDir, "logs", function+".log")
}

// RotatedLogPath is where LogPath's file goes when it reaches its cap; the
// file there before is deleted.
func RotatedLogPath(stateDir, function string) string {
	return LogPath(stateDir, function) + ".1"
}

// logCaps bound a function's log: FileBytes the file (then it rotates),
// InvokeBytes one invocation's output. 0 means no bound.
type logCaps struct {
	FileBytes, InvokeBytes int64
}

func logCapsOf(cfg Config) logCaps {
	return logCaps{FileBytes: cfg.FunctionLogBytes, InvokeBytes: cfg.FunctionLogInvokeBytes}
}

// logFiles hands out one logFile per function, shared by the generations
// of a process: there is one writer per file, so rotation never races a
// write from an older generation's invocation.
type logFiles struct {
	mu    sync.Mutex
	files map[string]*logFile
}

func (l *logFiles) open(stateDir, function string, caps logCaps) (*logFile, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.files[function]; f != nil {
		f.setCaps(caps)
		return f, nil
	}
	path := LogPath(stateDir, function)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create the logs directory: %w", err)
	}
	f := &logFile{path: path, caps: caps}
	if err := f.reopen(); err != nil {
		return nil, err
	}
	if l.files == nil {
		l.files = map[string]*logFile{}
	}
	l.files[function] = f
	return f, nil
}

func (l *logFiles) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.files {
		f.close()
	}
	l.files = nil
}

// logFile is one function's append-only log. Each Write is one line (the
// runtime writes a line per call) and holds the mutex, so concurrent
// invocations never interleave and a rotation never splits a line. When a
// write would take the file past caps.FileBytes, the file is renamed to
// <name>.1 and a new one started: a function's logs take at most about
// twice the cap on disk.
type logFile struct {
	mu     sync.Mutex
	path   string
	f      *os.File // nil after a failed rotation or close
	size   int64
	caps   logCaps
	closed bool
}

// InvocationLogLimit makes the runtime cap each invocation's output
// (runtime.InvocationLogLimiter).
func (l *logFile) InvocationLogLimit() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.caps.InvokeBytes
}

func (l *logFile) setCaps(c logCaps) {
	l.mu.Lock()
	l.caps = c
	l.mu.Unlock()
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, fmt.Errorf("function log %s: %w", l.path, os.ErrClosed)
	}
	if l.f == nil {
		if err := l.reopen(); err != nil {
			return 0, err
		}
	}
	if limit := l.caps.FileBytes; limit > 0 && l.size > 0 && l.size+int64(len(p)) > limit {
		// A failed rotation keeps writing to the same file (and tries again
		// on the next line): losing lines would be worse than the overrun.
		_ = l.rotate()
		if l.f == nil {
			return 0, fmt.Errorf("function log %s: no file after rotation", l.path)
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("write function log: %w", err)
	}
	return n, nil
}

// rotate closes the file, moves it to <name>.1 and opens a new one. It
// closes before renaming so that it works where an open file cannot be
// renamed too.
func (l *logFile) rotate() error {
	cerr := l.f.Close()
	l.f = nil
	rerr := os.Rename(l.path, l.path+".1")
	if rerr != nil {
		rerr = fmt.Errorf("rotate function log: %w", rerr)
	}
	return errors.Join(cerr, rerr, l.reopen())
}

// reopen opens (or creates) the file at path for appending and learns its
// size, so a restart keeps counting towards the cap.
func (l *logFile) reopen() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open function log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open function log: %w", err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

func (l *logFile) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	l.closed = true
}
