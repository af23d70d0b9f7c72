// Package checkpoint stores event-source mapping positions: per (mapping,
// shard), the sequence number up to which every record has been handled,
// and whether the shard was read to its end (so a closed parent is never
// read again after a reshard).
//
// Several Sluice instances may share a store. Ownership of a shard is
// fenced: Claim makes the caller the shard's owner under a new, higher
// epoch, and a Put carrying an older epoch fails with ErrFenced — so a
// paused or partitioned former owner can never move a checkpoint back
// after a new owner took the shard over. Every store must pass
// checkpoint/storetest.
//
// Stores are registered by name (Register / Open) so that distributed stores
// (PostgreSQL, etcd, a KCL-style lease table) can slot in beside the
// embedded file store.
package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Position is a shard's checkpoint.
type Position struct {
	// SequenceNumber is the last record handled; "" means none yet.
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	// ShardEnd is set once a closed shard has been read to its end.
	ShardEnd bool `json:"shardEnd,omitempty"`
	// Epoch is the fencing token of the shard's current owner (0: never
	// claimed). Put must carry the epoch its caller's Claim returned.
	Epoch uint64 `json:"epoch,omitempty"`
	// Owner names the instance that claimed the shard last.
	Owner string `json:"owner,omitempty"`
}

// ErrFenced is returned by Put when another owner claimed the shard after
// the caller did: the caller must stop working on the shard.
var ErrFenced = errors.New("checkpoint: shard claimed by another owner")

// Store persists positions. Implementations must make Put durable before
// returning and must be safe for concurrent use, also by several processes
// opening the same location.
type Store interface {
	// Get returns a shard's position; the zero Position if none.
	Get(ctx context.Context, mappingID, shardID string) (Position, error)
	// Claim makes owner the shard's owner: it durably stores a new epoch,
	// higher than any before, and returns the position with it.
	Claim(ctx context.Context, mappingID, shardID, owner string) (Position, error)
	// Put durably stores pos unless pos.Epoch is older than the shard's
	// current epoch, in which case it returns ErrFenced and changes
	// nothing. The stored epoch and owner are kept as they are.
	Put(ctx context.Context, mappingID, shardID string, pos Position) error
	Close() error
}

// Opener creates a store from a location string (a directory, a DSN…).
type Opener func(location string) (Store, error)

var (
	registryMu sync.Mutex
	registry   = map[string]Opener{}
)

// Register makes a store available by name. It panics on a duplicate name,
// at start-up, where the mistake is cheap to see.
func Register(name string, open Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("checkpoint: store " + name + " registered twice")
	}
	registry[name] = open
}

// Open opens the store registered as name.
func Open(name, location string) (Store, error) {
	registryMu.Lock()
	open, ok := registry[name]
	registryMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("checkpoint store %q is not registered (have %v)", name, Names())
	}
	return open(location)
}

// Names lists the registered stores.
func Names() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
