package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"

	"github.com/sluice-dev/sluice/internal/fsutil"
)

func init() { Register("file", func(dir string) (Store, error) { return OpenFileStore(dir) }) }

// FileStore keeps one small JSON file per mapping in a directory, replaced
// atomically and fsynced on every Put. Every operation holds an flock(2) on
// the mapping's lock file and re-reads the file, so several processes can
// share the directory and fencing (Claim/ErrFenced) works between them.
type FileStore struct {
	dir string
}

var safeID = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// OpenFileStore opens (creating) a file store in dir.
func OpenFileStore(dir string) (*FileStore, error) {
	if err := fsutil.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint store %s: %w", dir, err)
	}
	return &FileStore{dir: dir}, nil
}

// locked runs f with the mapping's positions read under its file lock; if
// f returns write=true the positions are written back before unlocking.
func (s *FileStore) locked(mappingID string, f func(m map[string]Position) (write bool, err error)) error {
	if !safeID.MatchString(mappingID) {
		return fmt.Errorf("invalid mapping id %q", mappingID)
	}
	lf, err := os.OpenFile(filepath.Join(s.dir, mappingID+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("checkpoints of mapping %s: %w", mappingID, err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("checkpoints of mapping %s: lock: %w", mappingID, err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)

	m := map[string]Position{}
	data, err := os.ReadFile(s.path(mappingID))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("checkpoints of mapping %s: %w", mappingID, err)
	default:
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("checkpoints of mapping %s: corrupt %s: %w", mappingID, s.path(mappingID), err)
		}
	}
	write, err := f(m)
	if err != nil || !write {
		return err
	}
	data, err = json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(s.path(mappingID), data, 0o644); err != nil {
		return fmt.Errorf("checkpoints of mapping %s: %w", mappingID, err)
	}
	return nil
}

// Get returns the position of a shard; the zero Position if none.
func (s *FileStore) Get(_ context.Context, mappingID, shardID string) (Position, error) {
	var pos Position
	err := s.locked(mappingID, func(m map[string]Position) (bool, error) {
		pos = m[shardID]
		return false, nil
	})
	return pos, err
}

// Claim makes owner the shard's owner under a new epoch.
func (s *FileStore) Claim(_ context.Context, mappingID, shardID, owner string) (Position, error) {
	var pos Position
	err := s.locked(mappingID, func(m map[string]Position) (bool, error) {
		pos = m[shardID]
		pos.Epoch++
		pos.Owner = owner
		m[shardID] = pos
		return true, nil
	})
	return pos, err
}

// Put durably records a shard's position unless the caller was fenced.
func (s *FileStore) Put(_ context.Context, mappingID, shardID string, pos Position) error {
	return s.locked(mappingID, func(m map[string]Position) (bool, error) {
		cur := m[shardID]
		if pos.Epoch < cur.Epoch {
			return false, fmt.Errorf("checkpoint %s/%s: epoch %d, owner %q holds %d: %w", mappingID, shardID, pos.Epoch, cur.Owner, cur.Epoch, ErrFenced)
		}
		pos.Epoch, pos.Owner = cur.Epoch, cur.Owner
		m[shardID] = pos
		return true, nil
	})
}

// Close releases nothing: every Put is already durable.
func (s *FileStore) Close() error { return nil }

func (s *FileStore) path(mappingID string) string {
	return filepath.Join(s.dir, mappingID+".json")
}

var _ Store = (*FileStore)(nil)
