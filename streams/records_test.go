package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// kinesisAPI is the part of the SDK client both clients share, so each
// read test runs over HTTP and in process.
type kinesisAPI interface {
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

func iter(t *testing.T, c kinesisAPI, stream, shard string, typ types.ShardIteratorType, seq string, ts *time.Time) string {
	t.Helper()
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: typ, Timestamp: ts}
	if seq != "" {
		in.StartingSequenceNumber = aws.String(seq)
	}
	out, err := c.GetShardIterator(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return *out.ShardIterator
}

func TestRecordsAndIterators(t *testing.T) {
	for _, mode := range []string{"http", "inprocess"} {
		t.Run(mode, func(t *testing.T) {
			clock := newFakeClock()
			e := openTest(t, Options{Clock: clock.Now})
			var c kinesisAPI = e.Client()
			if mode == "http" {
				c = sdkClient(t, e)
			}
			ctx := context.Background()
			mustCreate(t, e, "s", 1)
			const shard0 = "shardId-000000000000"

			var seqs []string
			var tsSecond time.Time
			for batch := 0; batch < 3; batch++ {
				if batch == 1 {
					tsSecond = clock.Now()
				}
				var recs []types.PutRecordsRequestEntry
				for i := 0; i < 10; i++ {
					recs = append(recs, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%d", i)), Data: []byte(fmt.Sprintf("b%d-r%d", batch, i))})
				}
				out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: recs})
				if err != nil {
					t.Fatal(err)
				}
				if *out.FailedRecordCount != 0 || len(out.Records) != 10 {
					t.Fatalf("put: %+v", out)
				}
				for _, r := range out.Records {
					seqs = append(seqs, *r.SequenceNumber)
				}
				clock.Advance(time.Second)
			}
			for i := 1; i < len(seqs); i++ {
				if bigOf(t, seqs[i-1]).Cmp(bigOf(t, seqs[i])) >= 0 {
					t.Fatalf("sequence numbers not increasing: %s then %s", seqs[i-1], seqs[i])
				}
			}

			// Paging with Limit, a fresh iterator each call, then an empty
			// caught-up read that still hands out an iterator.
			it := iter(t, c, "s", shard0, types.ShardIteratorTypeTrimHorizon, "", nil)
			var got []string
			var sizes []int
			for range 5 {
				clock.Advance(time.Millisecond) // a fresh iterator carries a new issue time
				out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(12)})
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(out.Records))
				for _, r := range out.Records {
					got = append(got, *r.SequenceNumber)
					if r.ApproximateArrivalTimestamp == nil || r.PartitionKey == nil {
						t.Fatal("record without timestamp or key")
					}
				}
				if out.NextShardIterator == nil || *out.NextShardIterator == it {
					t.Fatal("GetRecords must return a fresh NextShardIterator")
				}
				it = *out.NextShardIterator
				if len(out.Records) == 0 && *out.MillisBehindLatest != 0 {
					t.Fatalf("caught up but MillisBehindLatest=%d", *out.MillisBehindLatest)
				}
			}
			if fmt.Sprint(sizes) != "[12 12 6 0 0]" || fmt.Sprint(got) != fmt.Sprint(seqs) {
				t.Fatalf("pages %v; read %d of %d records in order=%v", sizes, len(got), len(seqs), fmt.Sprint(got) == fmt.Sprint(seqs))
			}

			first := func(it string) string {
				out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(1)})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Records) == 0 {
					return ""
				}
				return *out.Records[0].SequenceNumber
			}
			if s := first(iter(t, c, "s", shard0, types.ShardIteratorTypeAtSequenceNumber, seqs[7], nil)); s != seqs[7] {
				t.Errorf("AT_SEQUENCE_NUMBER read %s, want %s", s, seqs[7])
			}
			if s := first(iter(t, c, "s", shard0, types.ShardIteratorTypeAfterSequenceNumber, seqs[7], nil)); s != seqs[8] {
				t.Errorf("AFTER_SEQUENCE_NUMBER read %s, want %s", s, seqs[8])
			}
			if s := first(iter(t, c, "s", shard0, types.ShardIteratorTypeAtTimestamp, "", &tsSecond)); s != seqs[10] {
				t.Errorf("AT_TIMESTAMP read %s, want %s", s, seqs[10])
			}
			old := clock.Now().Add(-time.Hour)
			if s := first(iter(t, c, "s", shard0, types.ShardIteratorTypeAtTimestamp, "", &old)); s != seqs[0] {
				t.Errorf("AT_TIMESTAMP before all data read %s, want %s", s, seqs[0])
			}
			now := clock.Now()
			atTip := iter(t, c, "s", shard0, types.ShardIteratorTypeAtTimestamp, "", &now)
			latest := iter(t, c, "s", shard0, types.ShardIteratorTypeLatest, "", nil)
			if s := first(latest); s != "" {
				t.Errorf("LATEST read old record %s", s)
			}
			out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("new")}}})
			if err != nil {
				t.Fatal(err)
			}
			if s := first(latest); s != *out.Records[0].SequenceNumber {
				t.Errorf("LATEST after a put read %q, want the new record", s)
			}
			if s := first(atTip); s != *out.Records[0].SequenceNumber {
				t.Errorf("AT_TIMESTAMP at the tip read %q, want the new record", s)
			}

			// Retention hides records older than 24h.
			clock.Advance(25 * time.Hour)
			if s := first(iter(t, c, "s", shard0, types.ShardIteratorTypeTrimHorizon, "", nil)); s != "" {
				t.Errorf("expired record %s still served", s)
			}
		})
	}
}

func TestThrottling(t *testing.T) {
	clock := newFakeClock()
	e := openTest(t, Options{Limits: true, Clock: clock.Now})
	c := sdkClient(t, e)
	ctx := context.Background()
	mustCreate(t, e, "t", 1)

	// 500 records of 4 KiB = 2 MiB against a 1 MiB/s shard: about half
	// must fail, each with the per-record throttling error, in order.
	recs := make([]types.PutRecordsRequestEntry, 500)
	for i := range recs {
		recs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: make([]byte, 4096)}
	}
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("t"), Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for i, r := range out.Records {
		if r.ErrorCode == nil {
			if ok != i {
				t.Fatalf("record %d succeeded after a throttled one", i)
			}
			ok++
			continue
		}
		if *r.ErrorCode != "ProvisionedThroughputExceededException" || r.SequenceNumber != nil {
			t.Fatalf("record %d: %v %v", i, *r.ErrorCode, r.ErrorMessage)
		}
	}
	if want := (1 << 20) / (4096 + 1); ok != want || int(*out.FailedRecordCount) != 500-want {
		t.Fatalf("accepted %d (failed %d), want %d", ok, *out.FailedRecordCount, want)
	}
	// A single PutRecord over the limit fails the whole call.
	_, err = c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("t"), PartitionKey: aws.String("k"), Data: make([]byte, 4096)})
	var pt *types.ProvisionedThroughputExceededException
	if !errors.As(err, &pt) {
		t.Fatalf("PutRecord over limit: %v", err)
	}
	// One second later the bucket has refilled.
	clock.Advance(time.Second)
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("t"), PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}

	// Reads: 5 calls per second per shard.
	it := iter(t, c, "t", "shardId-000000000000", types.ShardIteratorTypeLatest, "", nil)
	for i := 0; i < 5; i++ {
		if _, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)}); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	if !errors.As(err, &pt) {
		t.Fatalf("6th read in a second: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)}); err != nil {
		t.Fatalf("read after refill: %v", err)
	}
}

func TestWaitForRecords(t *testing.T) {
	e := openTest(t, Options{})
	c := e.Client()
	ctx := context.Background()
	mustCreate(t, e, "w", 1)
	it := iter(t, c, "w", "shardId-000000000000", types.ShardIteratorTypeLatest, "", nil)

	woke := make(chan error, 1)
	go func() { woke <- c.WaitForRecords(ctx, it) }()
	select {
	case err := <-woke:
		t.Fatalf("returned before any record: %v", err)
	default:
	}
	if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("w"), Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	if err := <-woke; err != nil {
		t.Fatal(err)
	}
	// Data already there: returns at once.
	if err := c.WaitForRecords(ctx, it); err != nil {
		t.Fatal(err)
	}
	// Nothing new: returns ctx.Err() when cancelled.
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	if err != nil || len(out.Records) != 1 {
		t.Fatalf("%v %v", out, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { woke <- c.WaitForRecords(cctx, *out.NextShardIterator) }()
	cancel()
	if err := <-woke; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	// A reshard closing the shard wakes a waiter.
	go func() { woke <- c.WaitForRecords(ctx, *out.NextShardIterator) }()
	if _, err := e.splitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("w"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("1000")}); err != nil {
		t.Fatal(err)
	}
	if err := <-woke; err != nil {
		t.Fatal(err)
	}
	var invalid *types.InvalidArgumentException
	if err := c.WaitForRecords(ctx, "bogus"); !errors.As(err, &invalid) {
		t.Fatalf("bad iterator: %v", err)
	}
}

func TestReshard(t *testing.T) {
	e := openTest(t, Options{})
	c := sdkClient(t, e)
	ctx := context.Background()
	mustCreate(t, e, "rs", 2)
	put := func(key string) *kinesis.PutRecordOutput {
		t.Helper()
		out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("rs"), PartitionKey: aws.String(key), Data: []byte(key)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	put("a") // shard 0
	it := iter(t, c, "rs", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon, "", nil)

	mid := "85070591809462778380107989451486003200" // 2^126: middle of shard 0
	if _, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("rs"), ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String(mid)}); err != nil {
		t.Fatal(err)
	}
	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("rs")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Shards) != 4 || ls.Shards[0].SequenceNumberRange.EndingSequenceNumber == nil ||
		*ls.Shards[2].ParentShardId != "shardId-000000000000" || *ls.Shards[3].HashKeyRange.StartingHashKey != mid {
		t.Fatalf("after split: %+v", ls.Shards)
	}
	if out := put("a"); *out.ShardId != "shardId-000000000002" {
		t.Fatalf("key a after split went to %s", *out.ShardId)
	}
	// Draining the closed parent ends with no iterator and the children.
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 1 || out.NextShardIterator != nil || len(out.ChildShards) != 2 || out.ChildShards[0].ParentShards[0] != "shardId-000000000000" {
		t.Fatalf("parent drain: %d records, next %v, children %+v", len(out.Records), out.NextShardIterator, out.ChildShards)
	}
	// Immediately resharding again: we use CreateDelay -1 in tests, so ACTIVE.
	if _, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("rs"), ShardToMerge: aws.String("shardId-000000000002"), AdjacentShardToMerge: aws.String("shardId-000000000003")}); err != nil {
		t.Fatal(err)
	}
	ls, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("rs"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Shards) != 2 || *ls.Shards[1].ShardId != "shardId-000000000004" || *ls.Shards[1].AdjacentParentShardId != "shardId-000000000003" ||
		*ls.Shards[1].HashKeyRange.StartingHashKey != "0" {
		t.Fatalf("after merge: %+v", ls.Shards)
	}
	_, err = c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("rs"), ShardToMerge: aws.String("shardId-000000000000"), AdjacentShardToMerge: aws.String("shardId-000000000001")})
	var invalid *types.InvalidArgumentException
	if !errors.As(err, &invalid) {
		t.Fatalf("merging a closed shard: %v", err)
	}

	usc, err := c.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("rs"), TargetShardCount: aws.Int32(3), ScalingType: types.ScalingTypeUniformScaling})
	if err != nil {
		t.Fatal(err)
	}
	if *usc.CurrentShardCount != 2 || *usc.TargetShardCount != 3 {
		t.Fatalf("UpdateShardCount output %+v", usc)
	}
	ls, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("rs"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := shardIDs(ls.Shards)
	want := evenRanges(3)
	slices.SortFunc(ls.Shards, func(a, b types.Shard) int {
		return bigOf(t, *a.HashKeyRange.StartingHashKey).Cmp(bigOf(t, *b.HashKeyRange.StartingHashKey))
	})
	if len(ls.Shards) != 3 {
		t.Fatalf("open shards after UpdateShardCount: %d", len(ls.Shards))
	}
	for i, sh := range ls.Shards {
		if *sh.HashKeyRange.StartingHashKey != want[i][0].String() || *sh.HashKeyRange.EndingHashKey != want[i][1].String() || sh.ParentShardId == nil {
			t.Errorf("shard %s range [%s, %s], want [%s, %s]", *sh.ShardId, *sh.HashKeyRange.StartingHashKey, *sh.HashKeyRange.EndingHashKey, want[i][0], want[i][1])
		}
	}

	// Lineage survives a restart.
	dir := e.dir
	e.Close()
	e2, err := Open(dir, Options{CreateDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	ls2, err := e2.Client().ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("rs"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil || len(ls2.Shards) != 3 || fmt.Sprint(shardIDs(ls2.Shards)) != fmt.Sprint(wantIDs) {
		t.Fatalf("after reopen: %v %v", shardIDs(ls2.Shards), err)
	}
}

func shardIDs(ss []types.Shard) []string {
	var out []string
	for _, s := range ss {
		out = append(out, *s.ShardId)
	}
	return out
}
