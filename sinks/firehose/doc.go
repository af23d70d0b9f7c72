// Package firehose is a Firehose-style delivery stream with Amazon S3
// destination semantics (spec Part C): it accepts batches of output records
// (sinks.Acceptor), partitions them with a JQ MetadataExtractionQuery or
// the producing function's keys, buffers each partition until its size or
// interval hint is reached, and writes each buffer as one object whose key
// is rendered from the prefix expression language (!{timestamp:...},
// !{partitionKeyFromQuery:...}, ...) and Firehose's object-name suffix.
//
// The data path, top to bottom: stream.go (Accept, routing, buffers,
// flush scheduling, recovery) → partition.go (JQ keys) → prefix.go and
// timefmt.go (key rendering) → object.go (object name and bytes) → a
// dest.Destination. wal.go is the write-ahead log underneath.
//
// # Delivery guarantee
//
// Accept returns only after the batch and its source checkpoint are fsynced
// to a write-ahead log in the state directory. A flush first logs an intent
// naming the object key and the exact records (partition and sequence
// range), then writes the object, then logs it done. Object keys and bytes
// are functions of the logged records alone, so after a crash an unfinished
// flush is re-executed to the same key with the same bytes, and every other
// logged record goes back into its buffer: nothing acknowledged is lost and
// no record is delivered twice. This is stronger than Firehose's
// at-least-once (spec C.13).
package firehose
