package streams

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// A state directory written by an earlier release must open with this one
// and serve every record it acknowledged. testdata/statedir-v1 was written
// by writeStateDirFixture at the release before the shard log moved to
// internal/seglog; the on-disk format did not change.

const fixtureEnv = "SLUICE_WRITE_STATEDIR_FIXTURE"

// fixtureTime is the fixed clock of the fixture: retention counts from it,
// so a reopen must use the same clock or the records would have expired.
var fixtureTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func fixtureRecords(shard int) []string {
	var out []string
	for i := range 40 {
		out = append(out, fmt.Sprintf("shard-%d-record-%02d-%s", shard, i, strings.Repeat("x", i)))
	}
	return out
}

// TestWriteStateDirFixture regenerates testdata/statedir-v1 when the
// environment asks for it (never in a normal run: the committed fixture
// is the old release's output).
func TestWriteStateDirFixture(t *testing.T) {
	if os.Getenv(fixtureEnv) == "" {
		return
	}
	dir := filepath.Join("testdata", "statedir-v1")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	now := fixtureTime
	e, err := Open(dir, Options{CreateDelay: -1, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.CreateStream(ctx, "fixture", 2); err != nil {
		t.Fatal(err)
	}
	c := e.Client()
	for shard := range 2 {
		for i, data := range fixtureRecords(shard) {
			now = fixtureTime.Add(time.Duration(i) * time.Second)
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{
				StreamName:      aws.String("fixture"),
				PartitionKey:    aws.String("k"),
				ExplicitHashKey: aws.String(fixtureHashKey(shard)),
				Data:            []byte(data),
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
}

// fixtureHashKey routes to shard 0 or 1 of a two-shard stream.
func fixtureHashKey(shard int) string {
	if shard == 0 {
		return "0"
	}
	return "340282366920938463463374607431768211455"
}

func TestOpenStateDirFromPreviousRelease(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "statedir-v1"))); err != nil {
		t.Fatal(err)
	}
	now := fixtureTime.Add(time.Hour)
	e, err := Open(dir, Options{CreateDelay: -1, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	c := e.Client()
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("fixture")})
	if err != nil {
		t.Fatal(err)
	}
	if len(shards.Shards) != 2 {
		t.Fatalf("fixture stream has %d shards, want 2", len(shards.Shards))
	}
	for i, sh := range shards.Shards {
		got := readShard(t, c, *sh.ShardId)
		want := fixtureRecords(i)
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", *sh.ShardId, len(got), len(want))
		}
		for j := range want {
			if string(got[j].Data) != want[j] {
				t.Fatalf("%s record %d: %q, want %q", *sh.ShardId, j, got[j].Data, want[j])
			}
			if at := got[j].ApproximateArrivalTimestamp; at == nil || !at.Equal(fixtureTime.Add(time.Duration(j)*time.Second)) {
				t.Fatalf("%s record %d arrived %v", *sh.ShardId, j, at)
			}
		}
		// Appends continue after the old records.
		put, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("fixture"), PartitionKey: aws.String("k"),
			ExplicitHashKey: aws.String(fixtureHashKey(i)), Data: []byte("after upgrade")})
		if err != nil {
			t.Fatal(err)
		}
		if *put.SequenceNumber <= *got[len(got)-1].SequenceNumber && len(*put.SequenceNumber) <= len(*got[len(got)-1].SequenceNumber) {
			t.Fatalf("new sequence number %s not after %s", *put.SequenceNumber, *got[len(got)-1].SequenceNumber)
		}
	}
}

func readShard(t *testing.T, c *Client, shardID string) []types.Record {
	t.Helper()
	ctx := context.Background()
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("fixture"), ShardId: aws.String(shardID),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	var out []types.Record
	iter := it.ShardIterator
	for range 100 {
		res, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(7)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Records...)
		if len(res.Records) == 0 || res.NextShardIterator == nil {
			break
		}
		iter = res.NextShardIterator
	}
	return out
}
