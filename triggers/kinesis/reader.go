package kinesis

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Reader is the Kinesis read API the mapping consumes. *kinesis.Client from
// aws-sdk-go-v2 satisfies it, so a mapping runs unchanged against real
// Kinesis, any Kinesis-compatible endpoint, or the embedded stream's
// in-process client.
type Reader interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// Waiter is optionally implemented by a Reader that can tell when new records
// arrive (the embedded stream's in-process client). A mapping whose reader
// is a Waiter blocks on WaitForRecords instead of polling on a timer.
type Waiter interface {
	// WaitForRecords returns when the shard behind shardIterator has a
	// record at or after the iterator's position, when the shard is closed
	// and drained, or when ctx is done (returning ctx.Err()). It may return
	// early; callers simply call GetRecords again.
	WaitForRecords(ctx context.Context, shardIterator string) error
}
