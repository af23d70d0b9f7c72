package streams

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Client is the in-process Kinesis client: the same methods, input and
// output types as aws-sdk-go-v2's *kinesis.Client, without HTTP. Errors are
// the SDK's typed errors (e.g. *types.ResourceNotFoundException), so
// callers handle them identically for both. Option functions are accepted
// for signature compatibility and ignored.
type Client struct{ e *Engine }

// Client returns an in-process client of e.
func (e *Engine) Client() *Client { return &Client{e: e} }

// ListShards lists a stream's shards.
func (c *Client) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return c.e.listShards(ctx, in)
}

// GetShardIterator returns an iterator positioned in a shard.
func (c *Client) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return c.e.getShardIterator(ctx, in)
}

// GetRecords reads records from an iterator's position. Returned Data
// slices are the caller's.
func (c *Client) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	return c.e.getRecords(ctx, in)
}

// PutRecords writes records; it returns once they are durable.
func (c *Client) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return c.e.putRecords(ctx, in)
}

// PutRecord writes one record; it returns once it is durable.
func (c *Client) PutRecord(ctx context.Context, in *kinesis.PutRecordInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordOutput, error) {
	return c.e.putRecord(ctx, in)
}

// DescribeStreamSummary describes a stream without its shards.
func (c *Client) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return c.e.describeStreamSummary(ctx, in)
}

// WaitForRecords returns when the shard behind shardIterator has a record
// at or after the iterator's position, when the shard is closed (so the
// next GetRecords reports its end), or when ctx is done (ctx.Err()). It may
// return early; callers call GetRecords again. It is woken by the commit
// of new records, not by polling.
func (c *Client) WaitForRecords(ctx context.Context, shardIterator string) error {
	return c.e.waitForRecords(ctx, shardIterator)
}
