package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/testpeers"
	"github.com/sluice-dev/sluice/samples/clickstream/clicks"
)

// TestProduceToKinesalite writes through the real SDK client to an
// independent Kinesis implementation, then reads every shard back: each
// acknowledged event must be in the stream exactly once, keyed by its
// session.
func TestProduceToKinesalite(t *testing.T) {
	endpoint := testpeers.Kinesalite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client, err := newClient(ctx, endpoint, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	const stream = "clickstream"
	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatalf("create stream: %v", err)
	}

	ackPath := filepath.Join(t.TempDir(), "acked.txt")
	acks, err := openAckLog(ackPath)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	// The producer waits for the stream to become ACTIVE by itself.
	st, err := produce(ctx, client, clicks.NewGenerator(11), producerConfig{
		Stream: stream, Count: n, MaxRetries: 5, ActiveTimeout: 10 * time.Second, Acked: acks,
	})
	if err != nil {
		t.Fatalf("produce: %v (stats %+v)", err, st)
	}
	if err := acks.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Sent != n || st.Acked != n {
		t.Fatalf("stats %+v, want %d sent and acknowledged", st, n)
	}

	ackedIDs := readLines(t, ackPath)
	if len(ackedIDs) != n {
		t.Fatalf("acked file has %d ids, want %d", len(ackedIDs), n)
	}

	found := map[string]int{}
	shards, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("list shards: %v", err)
	}
	if len(shards.Shards) != 2 {
		t.Fatalf("%d shards, want 2", len(shards.Shards))
	}
	for _, sh := range shards.Shards {
		got := 0
		it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatalf("get shard iterator: %v", err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatalf("get records: %v", err)
			}
			for _, r := range out.Records {
				var ev clicks.Event
				if err := json.Unmarshal(r.Data, &ev); err != nil {
					t.Fatalf("record %s is not a click event: %v", aws.ToString(r.SequenceNumber), err)
				}
				if aws.ToString(r.PartitionKey) != ev.SessionID {
					t.Fatalf("partition key %q, want the session id %q", aws.ToString(r.PartitionKey), ev.SessionID)
				}
				found[ev.EventID]++
			}
			got += len(out.Records)
			// The stream is no longer written to: an empty page at the tip
			// means the shard is read completely.
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
		if got == 0 {
			t.Errorf("shard %s got no records: partition keys do not spread", aws.ToString(sh.ShardId))
		}
	}
	for _, id := range ackedIDs {
		if found[id] != 1 {
			t.Errorf("acknowledged event %s found %d times in the stream", id, found[id])
		}
	}
	if len(found) != n {
		t.Errorf("stream holds %d distinct events, want %d", len(found), n)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// flakyKinesis fails calls and entries on a schedule, to test retries
// without a server.
type flakyKinesis struct {
	mu        sync.Mutex
	calls     int
	failCalls map[int]error // call number → whole-call error
	failEvery int           // fail every n-th entry of a call (0 = never)
	stored    []string      // partition keys (session ids) accepted, in order
	status    []types.StreamStatus
	puts      chan int // when set, gets len(stored) after each PutRecords
}

func (f *flakyKinesis) DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := types.StreamStatusActive
	if len(f.status) > 0 {
		s, f.status = f.status[0], f.status[1:]
	}
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{StreamStatus: s}}, nil
}

func (f *flakyKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if err := f.failCalls[f.calls]; err != nil {
		return nil, err
	}
	out := &kinesis.PutRecordsOutput{}
	for i, e := range in.Records {
		if f.failEvery > 0 && i%f.failEvery == 0 && f.calls%2 == 1 {
			out.Records = append(out.Records, types.PutRecordsResultEntry{
				ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("Rate exceeded for shard"),
			})
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			continue
		}
		f.stored = append(f.stored, aws.ToString(e.PartitionKey))
		out.Records = append(out.Records, types.PutRecordsResultEntry{SequenceNumber: aws.String("1"), ShardId: aws.String("shardId-000000000000")})
	}
	if f.puts != nil {
		f.puts <- len(f.stored)
	}
	return out, nil
}

func TestProduceRetriesFailedEntriesAndCalls(t *testing.T) {
	api := &flakyKinesis{
		failCalls: map[int]error{2: errors.New("connection reset by peer")},
		failEvery: 3,
		status:    []types.StreamStatus{types.StreamStatusCreating, types.StreamStatusCreating},
	}
	ackPath := filepath.Join(t.TempDir(), "acked")
	acks, err := openAckLog(ackPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := produce(context.Background(), api, clicks.NewGenerator(1), producerConfig{
		Stream: "s", Count: 1234, BatchSize: 100, MaxRetries: 5, Acked: acks,
	})
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	acks.Close()
	if st.Acked != 1234 || len(api.stored) != 1234 || st.Retries == 0 {
		t.Fatalf("stats %+v, stored %d: want all 1234 stored once, with retries", st, len(api.stored))
	}
	ids := readLines(t, ackPath)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("event %s acknowledged twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 1234 {
		t.Fatalf("%d distinct acked ids, want 1234", len(seen))
	}
}

func TestProduceGivesUpOnPermanentErrors(t *testing.T) {
	notFound := &types.ResourceNotFoundException{Message: aws.String("Stream s under account 000000000000 not found.")}
	api := &flakyKinesis{failCalls: map[int]error{1: notFound}}
	_, err := produce(context.Background(), api, clicks.NewGenerator(1), producerConfig{Stream: "s", Count: 10, MaxRetries: 3})
	if !errors.Is(err, errUnacknowledged) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("got %v, want an unacknowledged-records error naming the cause", err)
	}
}

func TestProduceGivesUpWhenServerStaysDown(t *testing.T) {
	down := &smithy.GenericAPIError{Code: "InternalFailure", Message: "down", Fault: smithy.FaultServer}
	fail := map[int]error{}
	for i := 1; i < 100; i++ {
		fail[i] = down
	}
	api := &flakyKinesis{failCalls: fail}
	ackPath := filepath.Join(t.TempDir(), "acked")
	acks, _ := openAckLog(ackPath)
	st, err := produce(context.Background(), api, clicks.NewGenerator(1), producerConfig{Stream: "s", Count: 10, MaxRetries: 2, Acked: acks})
	acks.Close()
	if err == nil || st.Acked != 0 || !strings.Contains(err.Error(), "10 of 10") {
		t.Fatalf("got %v (stats %+v), want failure reporting 10 of 10 unacknowledged", err, st)
	}
	if ids := readLines(t, ackPath); len(ids) != 0 {
		t.Fatalf("acked file lists %d ids for a failed run", len(ids))
	}
}

// TestRateLimit: the producer paces records on its clock. 60 records at
// 200/s go in batches of 20, each only once the clock reaches its due
// time, never in one burst.
func TestRateLimit(t *testing.T) {
	api := &flakyKinesis{puts: make(chan int, 10)}
	fake := clock.NewFake(time.Unix(1000, 0))
	var st stats
	done := make(chan error, 1)
	go func() {
		var err error
		st, err = produce(context.Background(), api, clicks.NewGenerator(1), producerConfig{Stream: "s", Count: 60, Rate: 200, Clock: fake})
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, sent := range []int{20, 40} {
		if got := <-api.puts; got != sent {
			t.Fatalf("%d records sent, want %d", got, sent)
		}
		// Parked until the next batch is due, with nothing more sent.
		if err := fake.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("the producer never waited for its next batch: %v", err)
		}
		select {
		case got := <-api.puts:
			t.Fatalf("%d records sent before the next batch was due, want %d", got, sent)
		default:
		}
		fake.Advance(100 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st.Acked != 60 {
		t.Fatalf("acked %d of 60", st.Acked)
	}
}
