package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// stateLock is an exclusive flock on <state-dir>/lock. The kernel drops it
// when the holder dies, so a lock left by a killed process is simply taken
// over by the next start, while two live instances are refused.
type stateLock struct{ f *os.File }

func lockStateDir(dir string) (*stateLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("state dir %s is in use by another sluice (pid %s): %w", dir, string(holder), err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	return &stateLock{f: f}, nil
}

func (l *stateLock) release() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
