package feed

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// fakeStream acknowledges records in two shards, failing every third entry
// of a call once.
type fakeStream struct {
	mu     sync.Mutex
	seq    int
	failed map[string]bool
	stored int
}

func (s *fakeStream) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &kinesis.PutRecordsOutput{}
	for i, e := range in.Records {
		k := string(e.Data)
		if i%3 == 2 && !s.failed[k] {
			s.failed[k] = true
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException")})
			continue
		}
		s.seq++
		s.stored++
		out.Records = append(out.Records, types.PutRecordsResultEntry{
			ShardId: aws.String(fmt.Sprintf("shardId-%012d", s.seq%2)), SequenceNumber: aws.String(fmt.Sprint(s.seq * 1000)),
		})
	}
	return out, nil
}

func TestAll(t *testing.T) {
	s := &fakeStream{failed: map[string]bool{}}
	recs := make([]Record, 2345)
	for i := range recs {
		recs[i] = Record{Key: fmt.Sprint(i), Data: []byte(fmt.Sprint(i))}
	}
	f := &Feeder{API: s, Stream: "x"}
	res, err := f.All(context.Background(), recs, 4, 500)
	if err != nil {
		t.Fatal(err)
	}
	if res.Acked != 2345 || s.stored != 2345 || res.Retries == 0 {
		t.Errorf("acked %d stored %d retries %d", res.Acked, s.stored, res.Retries)
	}
	// The highest sequence numbers: 2345000 and 2344000, in the two shards.
	want := map[string]string{"shardId-000000000001": "2345000", "shardId-000000000000": "2344000"}
	if fmt.Sprint(res.Last) != fmt.Sprint(want) {
		t.Errorf("last %v, want %v", res.Last, want)
	}
}

func TestSeqLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{{"", "1", true}, {"9", "10", true}, {"10", "9", false}, {"49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692540925702759324208523137515618", true}, {"5", "5", false}} {
		if got := SeqLess(c.a, c.b); got != c.want {
			t.Errorf("SeqLess(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
