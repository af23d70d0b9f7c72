package app

import (
	"os"
	"path/filepath"
	"sync"
)

// LogPath is where `sluice up` appends a function's captured output.
func LogPath(stateDir, function string) string {
	return filepath.Join(stateDir, "logs", function+".log")
}

// logFiles hands out one append-only file per function, shared by the
// generations of a process.
type logFiles struct {
	mu    sync.Mutex
	files map[string]*os.File
}

func (l *logFiles) open(stateDir, function string) (*os.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.files[function]; f != nil {
		return f, nil
	}
	path := LogPath(stateDir, function)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if l.files == nil {
		l.files = map[string]*os.File{}
	}
	l.files[function] = f
	return f, nil
}

func (l *logFiles) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.files {
		f.Close()
	}
	l.files = nil
}
