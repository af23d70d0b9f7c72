// Package handover is the contract where data crosses from the event-source
// mapping to a delivery stream: a batch of output records is handed over
// together with the source checkpoint it completes, and Accept returns only
// once both are durable.
//
// Neither side owns it. Triggers (triggers/...) produce Batches and depend
// only on Acceptor; delivery streams (sinks/firehose) implement Acceptor and
// never see a trigger. handovertest holds the conformance suite every
// Acceptor passes and an in-memory Acceptor for trigger tests.
//
// Storing the checkpoint with the data it produced is what lets a restart
// after a crash resume exactly where the sink left off instead of delivering
// the same batch twice (see Acceptor.Checkpoint).
package handover

import (
	"context"
	"time"
)

// Record is one output record for a delivery stream.
type Record struct {
	// Data is the record payload as the function produced it (usually one
	// JSON document, without a trailing delimiter).
	Data []byte
	// PartitionKeys are keys set by the producing function
	// (partitionKeyFromLambda in prefixes). Nil when none.
	PartitionKeys map[string]string
	// ArrivalTime is the approximate arrival time of the source record at
	// the stream; it drives !{timestamp:...} prefixes and object names.
	ArrivalTime time.Time
}

// Source identifies where a batch came from and the checkpoint it completes.
type Source struct {
	// ID names the reading position's owner, e.g. "<mapping UUID>/<shardId>".
	ID string
	// Checkpoint is the sequence number the source's checkpoint moves to
	// once this batch is accepted ("" leaves it where it is).
	Checkpoint string
}

// Batch is the output of one invocation, handed to a sink in one call.
type Batch struct {
	Source  Source
	Records []Record
}

// Acceptor is what the trigger hands its output to.
type Acceptor interface {
	// Accept durably takes the batch: when it returns nil the records and
	// Source.Checkpoint survive a crash of the process. An error means
	// nothing of the batch was taken; the caller retries the same batch.
	Accept(ctx context.Context, b Batch) error
	// Checkpoint returns the last Source.Checkpoint durably accepted for
	// source id, or "" if none. A trigger resumes from the later of this
	// and its own checkpoint store.
	Checkpoint(id string) string
}
