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
	"sync"

	"github.com/sluice-dev/sluice/internal/fsutil"
)

func init() { Register("file", func(dir string) (Store, error) { return OpenFileStore(dir) }) }

// FileStore keeps one small JSON file per mapping in a directory, replaced
// atomically and fsynced on every Put.
type FileStore struct {
	dir string

	mu       sync.Mutex
	mappings map[string]map[string]Position
	fileMu   map[string]*sync.Mutex // serialises writes of one mapping's file
}

var safeID = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// OpenFileStore opens (creating) a file store in dir.
func OpenFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint store %s: %w", dir, err)
	}
	return &FileStore{dir: dir, mappings: map[string]map[string]Position{}, fileMu: map[string]*sync.Mutex{}}, nil
}

func (s *FileStore) load(mappingID string) (map[string]Position, error) {
	if m, ok := s.mappings[mappingID]; ok {
		return m, nil
	}
	m := map[string]Position{}
	data, err := os.ReadFile(s.path(mappingID))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("checkpoints of mapping %s: %w", mappingID, err)
	default:
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("checkpoints of mapping %s: corrupt %s: %w", mappingID, s.path(mappingID), err)
		}
	}
	s.mappings[mappingID] = m
	return m, nil
}

// Get returns the position of a shard; the zero Position if none.
func (s *FileStore) Get(_ context.Context, mappingID, shardID string) (Position, error) {
	if !safeID.MatchString(mappingID) {
		return Position{}, fmt.Errorf("invalid mapping id %q", mappingID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.load(mappingID)
	if err != nil {
		return Position{}, err
	}
	return m[shardID], nil
}

// Put durably records a shard's position.
func (s *FileStore) Put(_ context.Context, mappingID, shardID string, pos Position) error {
	if !safeID.MatchString(mappingID) {
		return fmt.Errorf("invalid mapping id %q", mappingID)
	}
	s.mu.Lock()
	m, err := s.load(mappingID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	m[shardID] = pos
	data, err := json.MarshalIndent(m, "", "  ")
	fm := s.fileMu[mappingID]
	if fm == nil {
		fm = &sync.Mutex{}
		s.fileMu[mappingID] = fm
	}
	// Take the file lock before releasing the map lock, so writes of one
	// mapping's file happen in the order their snapshots were taken.
	fm.Lock()
	s.mu.Unlock()
	defer fm.Unlock()
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(s.path(mappingID), data, 0o644); err != nil {
		return fmt.Errorf("checkpoint %s/%s: %w", mappingID, shardID, err)
	}
	return nil
}

// Close releases nothing: every Put is already durable.
func (s *FileStore) Close() error { return nil }

func (s *FileStore) path(mappingID string) string {
	return filepath.Join(s.dir, mappingID+".json")
}

var _ Store = (*FileStore)(nil)
