// Package checkpoint stores event-source mapping positions: per (mapping,
// shard), the sequence number up to which every record has been handled,
// and whether the shard was read to its end (so a closed parent is never
// read again after a reshard).
//
// Stores are registered by name (Register / Open) so that distributed stores
// (PostgreSQL, etcd, a KCL-style lease table) can slot in beside the
// embedded file store.
package checkpoint

import (
	"context"
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
}

// Store persists positions. Implementations must make Put durable before
// returning and must be safe for concurrent use.
type Store interface {
	Get(ctx context.Context, mappingID, shardID string) (Position, error)
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
