// Package kinesis is the event-source mapping: it polls a Kinesis stream
// shard by shard, batches records, invokes a function with an
// events.KinesisEvent, hands the output to a sink and moves a durable
// checkpoint only after the sink has accepted the output.
package kinesis
