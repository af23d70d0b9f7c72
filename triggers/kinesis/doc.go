// Package kinesis is the event-source mapping: it polls a Kinesis stream
// shard by shard, batches records, invokes a function with an
// events.KinesisEvent, hands the output to a sink and moves a durable
// checkpoint only after the sink has accepted the output. It implements
// Lambda's Kinesis ESM semantics (docs/semantics.md, "Lambda event-source
// mapping"; comments cite its headings).
//
// Where things happen:
//
//	mapping.go   Config (every ESM parameter; ranges and defaults from esmparam, shared with the template), Options, shard discovery, parents before children
//	shard.go     one shard: claim (fenced) → resume from the later of sink and store → gather (BatchSize, window, filters)
//	lanes.go     ParallelizationFactor: key lanes fed by pipelined reads, the safe shard checkpoint across them, hand-over to the sink
//	cpwriter.go  a shard's checkpoint writes: in the background, paced, the latest one always
//	invoke.go    the per-batch state machine: 6 MB cap, age discards, retries with back-off, partial responses, bisect
//	response.go  ReportBatchItemFailures parsing
//	failure.go   discards and the on-failure destination's invocation record and S3 key
//	window.go    tumbling windows: opaque state, final invoke, close at shard end
//	redrive.go   reading failure records back and replaying them (`sluice redrive`)
//	metrics.go   Prometheus collectors
//
// RATIONALE.md explains the hot path: the typed invoke, the fast read,
// pipelined lanes and paced checkpoint writes.
//
// # Notes
//
//   - Lanes are fed by rounds: one read of up to
//     BatchSize×ParallelizationFactor matching records is split by
//     hash(partition key), and each lane's worker takes its share of each
//     round in order, invoking and retrying independently. The next read
//     is dispatched as soon as the previous one is, up to 4 rounds ahead of
//     the oldest unfinished one, so a failing lane holds back the
//     checkpoint but not the other lanes (until that read-ahead is used
//     up); the checkpoint is always the highest sequence number below which
//     every record is done, across all rounds and lanes. With one lane a
//     round runs inline: read, invoke, hand over, read again.
//   - A Go handler of a usual Kinesis signature gets the batch and returns
//     its StreamResponse without JSON (runtime.Invoker.InvokeKinesis), with
//     ReportBatchItemFailures too: a typed response's identifiers are read
//     as its JSON would be (FuzzClassifyResponse checks that); a handler
//     that answers through JSON has its body read as Lambda reads it.
//   - With a tumbling window the checkpoint moves only when the window's
//     final invocation succeeds, so a restart re-reads the open window and
//     rebuilds its state; non-final output reaches the sink without a
//     checkpoint.
//   - Invocations that never reached the function (a non-InvokeError, or
//     the throttle types in throttleTypes) are retried without counting
//     toward MaximumRetryAttempts (docs/semantics.md, "ESM invocation
//     outcomes").
//   - Every timer and reading of the time goes through Options.Clock
//     (internal/clock), so a test or a replay on a clock.Fake moves polls,
//     batching windows, checkpoint pacing, back-off and drain deadlines by
//     advancing it.
package kinesis
