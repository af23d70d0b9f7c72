package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/internal/seglog"
)

// Disk full on the state dir (issue 8): writes are refused with a clear,
// retryable error, nothing acknowledged is lost, nothing refused is ever
// served, and writes resume when space returns, without a restart.

// Hash keys at either end of the key space: with two shards, one record
// each way lands one per shard whatever its partition key.
const (
	lowHash  = "0"
	highHash = "340282366920938463463374607431768211455"
)

// diskRecords builds n records per shard, all the same size, named
// prefix-<shard>-<i> so a test can tell which request wrote them.
func diskRecords(prefix string, n int) []types.PutRecordsRequestEntry {
	var out []types.PutRecordsRequestEntry
	for i := range n {
		for s, h := range []string{lowHash, highHash} {
			out = append(out, types.PutRecordsRequestEntry{
				PartitionKey:    aws.String("k"),
				ExplicitHashKey: aws.String(h),
				Data:            []byte(fmt.Sprintf("%s-%d-%03d", prefix, s, i)),
			})
		}
	}
	return out
}

// shardData reads a shard from TRIM_HORIZON to its tip.
func shardData(t *testing.T, c *kinesis.Client, stream, shard string) []string {
	t.Helper()
	it := aws.String(iter(t, c, stream, shard, types.ShardIteratorTypeTrimHorizon, "", nil))
	var out []string
	for {
		r, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: it})
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range r.Records {
			out = append(out, string(rec.Data))
		}
		if len(r.Records) == 0 {
			return out
		}
		it = r.NextShardIterator
	}
}

// wantStorageError checks the answer a producer sees for refused writes:
// AWS's ServiceUnavailable, HTTP 503 (which the SDKs retry), naming a full
// disk.
func wantStorageError(t *testing.T, err error, what string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" {
		t.Fatalf("%s: err %v, want ServiceUnavailable", what, err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("%s: err %v, want HTTP 503", what, err)
	}
	if !strings.Contains(ae.ErrorMessage(), "disk holding the stream's data is full") {
		t.Fatalf("%s: message %q does not say the disk is full", what, ae.ErrorMessage())
	}
}

func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	ffs := seglog.NewFaultFS()
	e, err := Open(dir, Options{CreateDelay: -1, storage: ffs})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e, "full", 2)
	c := sdkClient(t, e)
	ctx := context.Background()
	want := map[string][]string{}
	put := func(prefix string, n int) *kinesis.PutRecordsOutput {
		t.Helper()
		in := diskRecords(prefix, n)
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("full"), Records: in})
		if err != nil {
			t.Fatalf("put %s: %v", prefix, err)
		}
		for i, r := range out.Records {
			if r.ErrorCode == nil {
				want[*r.ShardId] = append(want[*r.ShardId], string(in[i].Data))
			}
		}
		return out
	}
	check := func(c *kinesis.Client) {
		t.Helper()
		for _, sh := range []string{"shardId-000000000000", "shardId-000000000001"} {
			if got := shardData(t, c, "full", sh); strings.Join(got, ",") != strings.Join(want[sh], ",") {
				t.Fatalf("%s holds %v, want exactly the acknowledged %v", sh, got, want[sh])
			}
		}
	}
	if out := put("acked", 20); *out.FailedRecordCount != 0 {
		t.Fatalf("%d records failed before any fault", *out.FailedRecordCount)
	}

	// No space at all: the whole call fails, PutRecord too.
	ffs.SetFree(0)
	_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("full"), Records: diskRecords("refused", 5)})
	wantStorageError(t, err, "PutRecords")
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("full"), PartitionKey: aws.String("k"), Data: []byte("refused-single")})
	wantStorageError(t, err, "PutRecord")
	check(c) // reads go on while writes are refused

	// Room for exactly one shard's group commit: one shard's records are
	// acknowledged, the other's fail per record with InternalFailure (one
	// of PutRecords' two per-record codes) and the same reason.
	frame := int64(8 + 18 + len("k") + len("partial-0-000"))
	ffs.SetFree(5 * frame)
	out := put("partial", 5)
	if *out.FailedRecordCount != 5 {
		t.Fatalf("FailedRecordCount %d, want the 5 records of one shard", *out.FailedRecordCount)
	}
	for _, r := range out.Records {
		if r.ErrorCode == nil {
			continue
		}
		if *r.ErrorCode != "InternalFailure" || !strings.Contains(*r.ErrorMessage, "full") || r.SequenceNumber != nil || r.ShardId != nil {
			t.Fatalf("failed entry %+v: want InternalFailure saying the disk is full, no sequence number", r)
		}
	}
	check(c)

	// Space returns: writes resume in the same process.
	ffs.Clear()
	if out := put("resumed", 10); *out.FailedRecordCount != 0 {
		t.Fatalf("%d records failed after space returned", *out.FailedRecordCount)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("full"), PartitionKey: aws.String("k"), ExplicitHashKey: aws.String(lowHash), Data: []byte("single")}); err != nil {
		t.Fatal(err)
	}
	want["shardId-000000000000"] = append(want["shardId-000000000000"], "single")
	check(c)

	// And across a restart: failed requests stay gone, appends continue.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = Open(dir, Options{CreateDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c = sdkClient(t, e)
	check(c)
	put("reopened", 3)
	check(c)
}
