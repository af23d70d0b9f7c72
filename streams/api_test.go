package streams

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

func bigOf(t *testing.T, s string, base ...int) *big.Int {
	t.Helper()
	b := 10
	if len(base) > 0 {
		b = base[0]
	}
	v, ok := new(big.Int).SetString(s, b)
	if !ok {
		t.Fatalf("not a decimal: %q", s)
	}
	return v
}

func TestStreamLifecycle(t *testing.T) {
	e := openTest(t, Options{CreateDelay: 20 * time.Millisecond})
	c := sdkClient(t, e)
	ctx := context.Background()

	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("life"), ShardCount: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("life")})
	if err != nil {
		t.Fatal(err)
	}
	if sum.StreamDescriptionSummary.StreamStatus != types.StreamStatusCreating {
		t.Fatalf("status right after create = %s, want CREATING", sum.StreamDescriptionSummary.StreamStatus)
	}
	if err := kinesis.NewStreamExistsWaiter(c, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 10 * time.Millisecond }).
		Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("life")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("life")})
	if err != nil {
		t.Fatal(err)
	}
	sd := d.StreamDescription
	if sd.StreamStatus != types.StreamStatusActive || len(sd.Shards) != 3 || *sd.RetentionPeriodHours != 24 ||
		*sd.StreamARN != "arn:aws:kinesis:us-east-1:000000000000:stream/life" || sd.StreamCreationTimestamp.IsZero() {
		t.Fatalf("unexpected description %+v", sd)
	}
	// docs/semantics.md, "Hash key routing": floor(2^128/3) wide ranges, the
	// last ending at 2^128-1.
	w := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(3))
	for i, sh := range sd.Shards {
		if want := fmt.Sprintf("shardId-%012d", i); *sh.ShardId != want {
			t.Errorf("shard %d id %s, want %s", i, *sh.ShardId, want)
		}
		start := new(big.Int).Mul(w, big.NewInt(int64(i)))
		if got := bigOf(t, *sh.HashKeyRange.StartingHashKey); got.Cmp(start) != 0 {
			t.Errorf("shard %d start %s, want %s", i, got, start)
		}
		if sh.SequenceNumberRange.EndingSequenceNumber != nil {
			t.Errorf("open shard %d has an ending sequence number", i)
		}
	}
	if *sd.Shards[2].HashKeyRange.EndingHashKey != "340282366920938463463374607431768211455" {
		t.Errorf("last shard ends at %s", *sd.Shards[2].HashKeyRange.EndingHashKey)
	}

	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("life"), ShardCount: aws.Int32(1)})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("duplicate create: %v, want ResourceInUseException", err)
	}
	if err := e.CreateStream(ctx, "life", 1); !errors.Is(err, ErrStreamExists) {
		t.Fatalf("Go-side duplicate create: %v, want ErrStreamExists", err)
	}

	mustCreate(t, e, "other", 1)
	ls, err := c.ListStreams(ctx, &kinesis.ListStreamsInput{Limit: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.StreamNames) != 1 || ls.StreamNames[0] != "life" || !*ls.HasMoreStreams || ls.NextToken == nil {
		t.Fatalf("ListStreams page 1 = %v more=%v", ls.StreamNames, *ls.HasMoreStreams)
	}
	ls, err = c.ListStreams(ctx, &kinesis.ListStreamsInput{NextToken: ls.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.StreamNames) != 1 || ls.StreamNames[0] != "other" || *ls.HasMoreStreams || ls.StreamSummaries[0].StreamCreationTimestamp == nil {
		t.Fatalf("ListStreams page 2 = %v", ls.StreamNames)
	}

	// ListShards pagination, by name and by ARN.
	var ids []string
	in := &kinesis.ListShardsInput{StreamARN: sd.StreamARN, MaxResults: aws.Int32(2)}
	for {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Shards {
			ids = append(ids, *s.ShardId)
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	if strings.Join(ids, ",") != "shardId-000000000000,shardId-000000000001,shardId-000000000002" {
		t.Fatalf("paged shards %v", ids)
	}
	out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("life"), ExclusiveStartShardId: aws.String("shardId-000000000000")})
	if err != nil || len(out.Shards) != 2 {
		t.Fatalf("ExclusiveStartShardId: %v %v", out, err)
	}
	out, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("life"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String("shardId-000000000001")}})
	if err != nil || len(out.Shards) != 1 {
		t.Fatalf("AFTER_SHARD_ID: %v %v", out, err)
	}
	out, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("life"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(time.Now())}})
	if err != nil || len(out.Shards) != 3 {
		t.Fatalf("AT_TIMESTAMP: %v %v", out, err)
	}

	// Retention and tags.
	if _, err := c.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("life"), RetentionPeriodHours: aws.Int32(48)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("life"), RetentionPeriodHours: aws.Int32(12)})
	var invalid *types.InvalidArgumentException
	if !errors.As(err, &invalid) {
		t.Fatalf("retention below 24h: %v", err)
	}
	if _, err := c.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String("life"), Tags: map[string]string{"team": "data", "env": "dev"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String("life"), TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String("life")})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Key != "team" {
		t.Fatalf("tags %v %v", tags, err)
	}

	if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String("life")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("life")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("describe deleted stream: %v", err)
	}
}

func TestErrorShapes(t *testing.T) {
	clock := newFakeClock()
	e := openTest(t, Options{Clock: clock.Now})
	c := sdkClient(t, e)
	ctx := context.Background()
	mustCreate(t, e, "s", 1)
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20+1)
	many := make([]types.PutRecordsRequestEntry, 501)
	for i := range many {
		many[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte("x")}
	}
	fat := make([]types.PutRecordsRequestEntry, 6)
	for i := range fat {
		fat[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: make([]byte, 1<<20-10)}
	}
	tampered := []byte(*it.ShardIterator)
	tampered[3] ^= 1

	tests := []struct {
		name string
		call func() error
		code string
		msg  string
	}{
		{"unknown stream describe", func() error {
			_, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String("nope")})
			return err
		}, "ResourceNotFoundException", "Stream nope under account 000000000000 not found."},
		{"unknown stream put", func() error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("nope"), PartitionKey: aws.String("k"), Data: []byte("x")})
			return err
		}, "ResourceNotFoundException", "not found"},
		{"unknown stream iterator", func() error {
			_, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("nope"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest})
			return err
		}, "ResourceNotFoundException", "Shard shardId-000000000000 in stream nope under account 000000000000 does not exist"},
		{"unknown shard", func() error {
			_, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000007"), ShardIteratorType: types.ShardIteratorTypeLatest})
			return err
		}, "ResourceNotFoundException", "Shard shardId-000000000007 in stream s"},
		{"bad iterator", func() error {
			_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("garbage")})
			return err
		}, "InvalidArgumentException", "Invalid ShardIterator."},
		{"tampered iterator", func() error {
			_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(string(tampered))})
			return err
		}, "InvalidArgumentException", "Invalid ShardIterator."},
		// The API reference says InvalidArgumentException, but the model's
		// range check answers first (recorded against AWS by kinesalite's
		// suite: "Value '100000' at 'limit' ...").
		{"limit too high", func() error {
			_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(10001)})
			return err
		}, "ValidationException", "Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"oversized record", func() error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: big})
			return err
		}, "ValidationException", "Member must have length less than or equal to 1048576"},
		{"record plus key over 1 MiB", func() error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("kk"), Data: big[:1<<20-1]})
			return err
		}, "InvalidArgumentException", "exceeds 1048576 bytes"},
		{"more than 500 records", func() error {
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: many})
			return err
		}, "ValidationException", "at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"},
		{"request over 5 MiB", func() error {
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: fat})
			return err
		}, "InvalidArgumentException", "Records size exceeds 5 MB limit"},
		{"explicit hash key out of range", func() error {
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
				{PartitionKey: aws.String("k"), Data: []byte("x"), ExplicitHashKey: aws.String("340282366920938463463374607431768211456")}}})
			return err
		}, "InvalidArgumentException", "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]"},
		{"explicit hash key not a number", func() error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("x"), ExplicitHashKey: aws.String("12x")})
			return err
		}, "ValidationException", "explicitHashKey"},
		{"partition key too long", func() error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String(strings.Repeat("k", 257)), Data: []byte("x")})
			return err
		}, "ValidationException", "Member must have length less than or equal to 256"},
		{"sequence number without type", func() error {
			_, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber})
			return err
		}, "InvalidArgumentException", "Must either specify"},
		{"foreign sequence number", func() error {
			_, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String("49546986683135544286507457936321625675700192471156785154")})
			return err
		}, "InvalidArgumentException", "is invalid because it did not come from this stream"},
		{"future timestamp", func() error {
			_, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(clock.Now().Add(time.Hour))})
			return err
		}, "InvalidArgumentException", "cannot be greater than the currentTimestampInMillis"},
		{"bad stream name", func() error {
			_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("bad name"), ShardCount: aws.Int32(1)})
			return err
		}, "ValidationException", "Member must satisfy regular expression pattern"},
		{"zero shards", func() error {
			_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("z"), ShardCount: aws.Int32(0)})
			return err
		}, "ValidationException", "Member must have value greater than or equal to 1"},
		{"next token with stream name", func() error {
			_, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"), NextToken: aws.String("x")})
			return err
		}, "InvalidArgumentException", "NextToken and StreamName cannot be provided together."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want API error %s", err, tc.code)
			}
			if ae.ErrorCode() != tc.code || !strings.Contains(ae.ErrorMessage(), tc.msg) {
				t.Fatalf("got %s: %q, want %s containing %q", ae.ErrorCode(), ae.ErrorMessage(), tc.code, tc.msg)
			}
		})
	}

	// Expiry runs on the injected clock: just inside 5 minutes is fine, past
	// it is ExpiredIteratorException, and the typed error matches.
	clock.Advance(5*time.Minute - time.Second)
	if _, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator}); err != nil {
		t.Fatalf("iterator before expiry: %v", err)
	}
	clock.Advance(2 * time.Second)
	_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	var expired *types.ExpiredIteratorException
	if !errors.As(err, &expired) || !strings.Contains(*expired.Message, "Iterator expired") {
		t.Fatalf("expired iterator over HTTP: %v", err)
	}
	// The service's wording, days zero-padded (recorded by kinesalite's suite).
	if !regexp.MustCompile(`^Iterator expired\. The iterator was created at time \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} while right now it is \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} which is further in the future than the tolerated delay of 300000 milliseconds\.$`).MatchString(*expired.Message) {
		t.Errorf("expiry message %q", *expired.Message)
	}
	_, err = e.Client().GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if !errors.As(err, &expired) {
		t.Fatalf("expired iterator in process: %v", err)
	}
}

func TestRouting(t *testing.T) {
	e := openTest(t, Options{})
	c := sdkClient(t, e)
	ctx := context.Background()
	mustCreate(t, e, "r", 2)
	// MD5("a") = 0cc175b9... (top bit 0 → lower half, shard 0);
	// MD5("b") = 92eb5ffe... (top bit 1 → upper half, shard 1).
	tests := []struct {
		key, ehk, shard string
	}{
		{"a", "", "shardId-000000000000"},
		{"b", "", "shardId-000000000001"},
		{"b", "0", "shardId-000000000000"},
		{"a", "170141183460469231731687303715884105727", "shardId-000000000000"},
		{"a", "170141183460469231731687303715884105728", "shardId-000000000001"},
		{"a", "340282366920938463463374607431768211455", "shardId-000000000001"},
	}
	for _, tc := range tests {
		in := &kinesis.PutRecordInput{StreamName: aws.String("r"), PartitionKey: aws.String(tc.key), Data: []byte("x")}
		if tc.ehk != "" {
			in.ExplicitHashKey = aws.String(tc.ehk)
		}
		out, err := c.PutRecord(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if *out.ShardId != tc.shard {
			t.Errorf("key %q ehk %q → %s, want %s", tc.key, tc.ehk, *out.ShardId, tc.shard)
		}
	}
	if got := hashKeyOf("a").String(); got != bigOf(t, "0cc175b9c0f1b6a831c399e269772661", 16).String() {
		t.Errorf("hash of a = %s", got)
	}
}
