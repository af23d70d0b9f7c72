package seglog

import (
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// FaultFS is an FS for tests of storage failures. It models a disk with a
// byte budget (writes that grow files past it write what fits and fail with
// ENOSPC, like a full filesystem; overwrites inside a file and truncations
// need no space) and fails chosen operations on demand. Everything else goes
// to the OS.
type FaultFS struct {
	mu    sync.Mutex
	free  int64 // bytes files may still grow by; < 0 means unlimited
	rules []*Rule
	calls map[Op]int
}

// Op names a file operation a Rule can fail.
type Op string

// Operations FaultFS can fail.
const (
	OpWrite    Op = "write"
	OpSync     Op = "sync"
	OpTruncate Op = "truncate"
	OpCreate   Op = "create" // OpenFile with O_CREATE
	OpSyncDir  Op = "syncdir"
)

// Rule fails calls of Op: after Skip more calls succeed, the next Times
// calls (every later call when Times is 0) return Err. A failing write
// writes nothing.
type Rule struct {
	Op    Op
	Skip  int
	Times int
	Err   error
	hits  int
}

// NewFaultFS returns a FaultFS with unlimited space and no rules.
func NewFaultFS() *FaultFS { return &FaultFS{free: -1, calls: map[Op]int{}} }

// SetFree sets how many more bytes files may grow by (< 0: unlimited).
// Raising it is "space returns".
func (f *FaultFS) SetFree(n int64) {
	f.mu.Lock()
	f.free = n
	f.mu.Unlock()
}

// Fail adds a rule.
func (f *FaultFS) Fail(r Rule) {
	f.mu.Lock()
	f.rules = append(f.rules, &r)
	f.mu.Unlock()
}

// Clear removes every rule and makes space unlimited.
func (f *FaultFS) Clear() {
	f.mu.Lock()
	f.rules = nil
	f.free = -1
	f.mu.Unlock()
}

// Calls returns how many calls of op were made (failed ones included).
func (f *FaultFS) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// check counts a call of op and returns the error a rule makes it fail
// with. Callers hold f.mu.
func (f *FaultFS) check(op Op) error {
	f.calls[op]++
	for _, r := range f.rules {
		if r.Op != op {
			continue
		}
		if r.Skip > 0 {
			r.Skip--
			continue
		}
		if r.Times == 0 || r.hits < r.Times {
			r.hits++
			return r.Err
		}
	}
	return nil
}

// OpenFile opens name through the fault layer.
func (f *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if flag&os.O_CREATE != 0 {
		f.mu.Lock()
		err := f.check(OpCreate)
		f.mu.Unlock()
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
	}
	osf, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	st, err := osf.Stat()
	if err != nil {
		osf.Close()
		return nil, err
	}
	return &faultFile{fs: f, f: osf, size: st.Size()}, nil
}

// SyncDir fsyncs dir unless a rule fails it.
func (f *FaultFS) SyncDir(dir string) error {
	f.mu.Lock()
	err := f.check(OpSyncDir)
	f.mu.Unlock()
	if err != nil {
		return &fs.PathError{Op: "sync", Path: dir, Err: err}
	}
	return OSFS{}.SyncDir(dir)
}

type faultFile struct {
	fs   *FaultFS
	f    *os.File
	size int64 // guarded by fs.mu
}

func (ff *faultFile) ReadAt(b []byte, off int64) (int, error) { return ff.f.ReadAt(b, off) }
func (ff *faultFile) Stat() (os.FileInfo, error)              { return ff.f.Stat() }
func (ff *faultFile) Close() error                            { return ff.f.Close() }

func (ff *faultFile) WriteAt(b []byte, off int64) (int, error) {
	f := ff.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(OpWrite); err != nil {
		return 0, &fs.PathError{Op: "write", Path: ff.f.Name(), Err: err}
	}
	end := off + int64(len(b))
	grow := end - max(ff.size, off)
	short := false
	if f.free >= 0 && grow > f.free {
		// A full disk: the part that fits is written, then ENOSPC.
		keep := max(ff.size, off) + f.free - off
		b = b[:max(keep, 0)]
		short = true
	}
	n, err := ff.f.WriteAt(b, off)
	if written := off + int64(n); written > ff.size {
		if f.free >= 0 {
			f.free -= written - ff.size
		}
		ff.size = written
	}
	if err == nil && short {
		err = &fs.PathError{Op: "write", Path: ff.f.Name(), Err: syscall.ENOSPC}
	}
	return n, err
}

func (ff *faultFile) Sync() error {
	f := ff.fs
	f.mu.Lock()
	err := f.check(OpSync)
	f.mu.Unlock()
	if err != nil {
		return &fs.PathError{Op: "sync", Path: ff.f.Name(), Err: err}
	}
	return ff.f.Sync()
}

func (ff *faultFile) Truncate(size int64) error {
	f := ff.fs
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(OpTruncate); err != nil {
		return &fs.PathError{Op: "truncate", Path: ff.f.Name(), Err: err}
	}
	if err := ff.f.Truncate(size); err != nil {
		return err
	}
	if f.free >= 0 && size < ff.size {
		f.free += ff.size - size
	}
	if f.free >= 0 && size > ff.size {
		f.free = max(f.free-(size-ff.size), 0)
	}
	ff.size = size
	return nil
}
