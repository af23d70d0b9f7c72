// Package firehose is a Firehose-style delivery stream with Amazon S3
// destination semantics (docs/semantics.md, "Amazon Data Firehose"): it
// accepts batches of output records
// (handover.Acceptor), partitions them with a JQ MetadataExtractionQuery or
// the producing function's keys, buffers each partition until its size or
// interval hint is reached, and writes each buffer as one object whose key
// is rendered from the prefix expression language (!{timestamp:...},
// !{partitionKeyFromQuery:...}, ...) and Firehose's object-name suffix.
//
// The data path, top to bottom: stream.go (Open, Accept, Close) →
// package deaggregate (KPL aggregates and RecordDeAggregation) →
// transform.go (the data-transformation function) → route.go (a route per
// record: partition.go's JQ keys, with direct lookups for plain-path
// queries, and package convert's verdict, JSON → Parquet with a Glue
// schema, OpenX/Hive SerDe rules) → buffers.go (a buffer per partition)
// → flush.go (when a buffer becomes an object, and the scheduler) →
// jobs.go (pending objects, their writes and retries; failure.go when the
// destination refuses one for good) → object.go and compress.go (object
// name and bytes, prefix.go and timefmt.go rendering the key: GZIP, ZIP,
// snappy-java, Hadoop snappy) → a dest.Destination (sinks/localdir,
// sinks/s3). Underneath, journal.go keeps the write-ahead log's sequence,
// checkpoints and segments (entries.go is what it logs, wal.go how), and
// recover.go rebuilds the state from it at Open; sinks/firehose/api
// serves the Firehose API over open streams.
//
// # Memory
//
// Buffers hold write-ahead-log locations, not bytes (~56 bytes a record),
// so a buffered partition costs the same whatever its records weigh. A
// flush streams its object: records are read back from the log, encoded,
// compressed (one block at most) and piped to the destination, which sends
// at most one multipart part at a time; Parquet is written row group by
// row group (Conversion.RowGroupBytes of JSON behind each).
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
// at-least-once (docs/semantics.md, "Firehose delivery guarantee").
//
// # One record cannot jam a stream
//
// A record whose object key S3 would refuse (over 1,024 bytes, see
// s3key.go) goes to the error output when it is routed. An object the
// destination refuses for good (a dest.PermanentError: a denied request, a
// key the store will not take) is logged, counted and rerouted, records
// and all, to the error output as delivery-failed (failure.go); only
// transient errors are retried, with back-off. Backlog (and the metrics,
// and `sluice status`) shows what waits for the destination and what
// fails.
package firehose
