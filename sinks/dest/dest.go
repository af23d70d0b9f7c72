// Package dest defines the narrow object-store contract that delivery
// streams write through: put one object, atomically and durably. It is the
// extension point for object stores (a local directory today, S3 later) and
// is reused by anything else that writes whole objects, such as the
// event-source mapping's on-failure destination.
//
// The interface lives in its own package, apart from sinks/firehose and
// from every concrete store, so that stores and writers can import it
// without importing each other.
package dest

import (
	"context"
	"errors"
	"io"
)

// Destination stores whole objects.
//
// # Notes
//
//   - Put must be atomic: a reader sees either no object or the complete
//     body, never a partial one.
//   - Put must be durable when it returns nil: the object survives a crash
//     of the process and of the machine.
//   - Overwriting an existing key with the same body must be safe, because
//     a delivery stream that crashed after writing an object but before
//     recording that fact rewrites the same key with the same bytes.
//   - Put reads body to the end (or until it fails); callers may stream the
//     body, so an implementation must not assume it can seek or re-read.
//   - An error that retrying cannot fix (a key or bucket the store refuses,
//     a denied request) should be wrapped with Permanent; callers retry
//     every other error, so that a store outage delays objects without
//     losing them, and report permanent ones instead of retrying forever.
type Destination interface {
	Put(ctx context.Context, bucket, key string, body io.Reader, meta ObjectMeta) error
}

// ObjectMeta is the metadata stored with an object.
type ObjectMeta struct {
	// ContentType is the object's media type; Firehose writes
	// application/octet-stream for every object.
	ContentType string `json:"contentType,omitempty"`
	// ContentEncoding is "gzip", "zip", "snappy-java", "hadoop-snappy" or
	// empty for uncompressed objects.
	ContentEncoding string `json:"contentEncoding,omitempty"`
	// FlushReason says why the writer produced the object: "size",
	// "interval", "partition_cap" or "shutdown" for delivery streams.
	FlushReason string `json:"flushReason,omitempty"`
	// Records is the number of records in the object.
	Records int `json:"records"`
	// Extra holds writer-specific metadata (stored as user metadata on S3).
	Extra map[string]string `json:"extra,omitempty"`
}

// ErrNotFound is wrapped by Reader.Get when an object does not exist.
var ErrNotFound = errors.New("object not found")

// Reader reads delivered objects back. Stores implement it beside
// Destination for tests, the conformance suite (dest/desttest) and tools
// that show what was delivered; writers never need it.
type Reader interface {
	// Get returns the body and metadata of bucket/key, or an error
	// wrapping ErrNotFound.
	Get(ctx context.Context, bucket, key string) ([]byte, ObjectMeta, error)
	// List returns the keys in bucket that start with prefix, sorted.
	List(ctx context.Context, bucket, prefix string) ([]string, error)
}
