package streams

import (
	"context"
	"fmt"
	"math/big"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/streams/internal/shardlog"
)

// decimalAdd replaces a 128-bit division per sequence number; every carry
// case (within the number, past its first digit, many digits at once) must
// give what big.Int gives.
func TestDecimalAdd(t *testing.T) {
	cases := []struct {
		prev string
		d    uint64
	}{
		{"0", 1},
		{"8", 1},
		{"9", 1},
		{"99", 1},
		{"1999", 1},
		{"12345", 0},
		{"49598630142999", 1},
		{"99999999999999999999", 1},
		{"4959863014290707987315785478519592960", 7},
		{"4959863014290707987315785478519592999", 1001},
		{"9", 18446744073709551615},
		{"123", 18446744073709551615},
		{"99999999999999999999999999999999999999", 18446744073709551615},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s+%d", c.prev, c.d), func(t *testing.T) {
			// A prefix in the buffer checks that only the last number is read.
			buf := append([]byte("777"), c.prev...)
			got := decimalAdd(buf, 3, len(buf), c.d)
			want := new(big.Int)
			want.SetString(c.prev, 10)
			want.Add(want, new(big.Int).SetUint64(c.d))
			if string(got[:3+len(c.prev)]) != "777"+c.prev || string(got[3+len(c.prev):]) != want.String() {
				t.Errorf("got %q, want %q then %q", got, "777"+c.prev, want.String())
			}
		})
	}
}

// fastRecords must render the same sequence numbers as apiRecords for
// consecutive, gapped and carry-crossing counters.
func TestFastRecordsMatchesAPIRecords(t *testing.T) {
	hi := seqHigh(3, 7)
	cases := map[string][]uint64{
		"consecutive":      {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
		"gaps":             {5, 9, 10, 99, 100, 1000, 123456789},
		"carry everywhere": {1<<64 - 3, 1<<64 - 2, 1<<64 - 1},
		"one":              {42},
		"none":             {},
	}
	for name, counters := range cases {
		t.Run(name, func(t *testing.T) {
			recs := make([]shardlog.Record, len(counters))
			for i, c := range counters {
				recs[i] = shardlog.Record{Counter: c, ArrivalMillis: int64(1000 + i), Key: fmt.Sprint("k", i), Data: []byte{byte(i)}}
			}
			sh := &shard{seqHi: hi}
			want, wantBytes := apiRecords(sh, recs)
			got, gotBytes := fastRecords(hi, recs)
			if gotBytes != wantBytes || !reflect.DeepEqual(got, want) {
				t.Errorf("fastRecords differs from apiRecords:\n got %v (%d bytes)\nwant %v (%d bytes)", seqs(got), gotBytes, seqs(want), wantBytes)
			}
		})
	}
}

// GetRecordsFast must answer exactly as GetRecords over a whole shard, read
// in uneven steps, including the shard's end after a split closes it.
func TestGetRecordsFastMatchesGetRecords(t *testing.T) {
	// A fixed clock: MillisBehindLatest and the iterators' issue times
	// depend on when each call ran.
	e := openTest(t, Options{Clock: newFakeClock().Now})
	mustCreate(t, e, "s", 1)
	c := e.Client()
	ctx := context.Background()
	for start := 0; start < 1234; start += 500 {
		var entries []types.PutRecordsRequestEntry
		for i := start; i < min(start+500, 1234); i++ {
			entries = append(entries, types.PutRecordsRequestEntry{Data: []byte(fmt.Sprint(i)), PartitionKey: aws.String(fmt.Sprint("key-", i%17))})
		}
		if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sdkClient(t, e).SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String("shardId-000000000000"),
		NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
		t.Fatal(err)
	}
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	iter := it.ShardIterator
	read := 0
	for _, limit := range []int32{1, 7, 500, 10000, 10000} {
		in := &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(limit)}
		want, err := c.GetRecords(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.GetRecordsFast(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		iter = want.NextShardIterator
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("limit %d: GetRecordsFast differs from GetRecords:\n got %+v\nwant %+v", limit, got, want)
		}
		read += len(want.Records)
		if iter == nil {
			break
		}
	}
	if read != 1234 || iter != nil {
		t.Errorf("read %d records, shard end reached %v; want 1234 and the end", read, iter == nil)
	}
	if _, err := c.GetRecordsFast(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("not-an-iterator")}); err == nil {
		t.Error("a forged iterator was accepted")
	}
}

func seqs(recs []types.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = aws.ToString(r.SequenceNumber)
	}
	return out
}
