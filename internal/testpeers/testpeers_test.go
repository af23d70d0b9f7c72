package testpeers

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestPeers writes a record to each emulator and reads it back, through the
// official SDK client, to prove the servers start, listen where we say, and
// are shut down (t.Cleanup) without leaking.
func TestPeers(t *testing.T) {
	for name, start := range map[string]func(testing.TB) string{
		"kinesalite":    Kinesalite,
		"kinesis-local": KinesisLocal,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			endpoint := start(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := KinesisClient(t, endpoint)
			if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("peer"), ShardCount: aws.Int32(1)}); err != nil {
				t.Fatalf("create stream: %v", err)
			}
			w := kinesis.NewStreamExistsWaiter(c, func(o *kinesis.StreamExistsWaiterOptions) {
				o.MinDelay = 50 * time.Millisecond
				o.MaxDelay = 200 * time.Millisecond
			})
			if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("peer")}, 20*time.Second); err != nil {
				t.Fatalf("wait for stream: %v", err)
			}
			put, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("peer"), PartitionKey: aws.String("k"), Data: []byte("hello")})
			if err != nil {
				t.Fatalf("put record: %v", err)
			}
			it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
				StreamName: aws.String("peer"), ShardId: put.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				t.Fatalf("get shard iterator: %v", err)
			}
			got, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
			if err != nil {
				t.Fatalf("get records: %v", err)
			}
			if len(got.Records) != 1 || string(got.Records[0].Data) != "hello" || aws.ToString(got.Records[0].SequenceNumber) != aws.ToString(put.SequenceNumber) {
				t.Fatalf("read back %+v, want the record just written", got.Records)
			}
		})
	}
}
