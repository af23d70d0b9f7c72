package seglog

import (
	"io"
	"os"

	"github.com/sluice-dev/sluice/internal/fsutil"
)

// File is the part of *os.File a log uses for its segments. It exists so
// tests can put a fault-injecting layer (FaultFS) between the log and the
// disk; production logs use the OS directly.
type File interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Stat() (os.FileInfo, error)
	Close() error
}

// FS opens segment files and makes directory entries durable. The zero
// Options use the operating system.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	SyncDir(dir string) error
}

// OSFS is the operating system's file layer.
type OSFS struct{}

// OpenFile opens name with os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// SyncDir fsyncs dir, so entries created in it survive a crash.
func (OSFS) SyncDir(dir string) error { return fsutil.SyncDir(dir) }
