// Package kinesis is the event-source mapping: it polls a Kinesis stream
// shard by shard, batches records, invokes a function with an
// events.KinesisEvent, hands the output to a sink and moves a durable
// checkpoint only after the sink has accepted the output. It implements
// Lambda's Kinesis ESM semantics (shared/spec/lambda-esm-and-sam.md Part 1).
//
// Where things happen:
//
//	mapping.go   Config (every ESM parameter, AWS ranges and defaults), Options, shard discovery, parents before children
//	shard.go     one shard: claim (fenced) → resume from the later of sink and store → gather (BatchSize, window, filters)
//	lanes.go     ParallelizationFactor: key lanes, the safe shard checkpoint across lanes, hand-over to the sink (§1.5)
//	invoke.go    the per-batch state machine: 6 MB cap, age discards, retries with back-off, partial responses, bisect (§1.6–§1.9)
//	response.go  ReportBatchItemFailures parsing, the §1.8 table
//	failure.go   discards and the on-failure destination's invocation record and S3 key (§1.10)
//	window.go    tumbling windows: opaque state, final invoke, close at shard end (§1.11)
//	redrive.go   reading failure records back and replaying them (`sluice redrive`)
//	metrics.go   Prometheus collectors (§1.15)
//
// # Notes
//
//   - Lanes run in rounds: one read of up to BatchSize×ParallelizationFactor
//     matching records is split by hash(partition key) and the lanes invoke
//     and retry independently; the next read starts when every lane of the
//     round is done. A failing lane therefore delays later records of other
//     lanes (never their current batch); the checkpoint is always the
//     highest sequence number below which every record is done.
//   - With a tumbling window the checkpoint moves only when the window's
//     final invocation succeeds, so a restart re-reads the open window and
//     rebuilds its state; non-final output reaches the sink without a
//     checkpoint.
//   - Invocations that never reached the function (a non-InvokeError, or
//     the throttle types in throttleTypes) are retried without counting
//     toward MaximumRetryAttempts (§1.6).
package kinesis
