package streams

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestHotShardReport(t *testing.T) {
	clk := newFakeClock()
	e := openTest(t, Options{Limits: true, Clock: clk.Now})
	mustCreate(t, e, "clicks", 2)
	c := e.Client()
	ctx := context.Background()
	// 1,500 records of one key in one second: 1,000 fit, 500 throttle.
	var throttled int32
	for b := range 3 {
		recs := make([]types.PutRecordsRequestEntry, 500)
		for i := range recs {
			recs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("session-1"), Data: []byte("x")}
		}
		if b == 0 {
			// And a spread of cold keys.
			for i := range 50 {
				recs[i].PartitionKey = aws.String(fmt.Sprint("cold-", i))
			}
		}
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("clicks"), Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		throttled += *out.FailedRecordCount
	}
	if throttled == 0 {
		t.Fatal("no record throttled: the limits are off?")
	}
	r, err := e.Hot("clicks")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Shards) != 2 {
		t.Fatalf("%d shards", len(r.Shards))
	}
	hot := r.Shards[0]
	if hot.Throttled != int64(throttled) || hot.Utilisation < 1 || hot.TopKeys[0].Key != "session-1" || hot.TopKeys[0].Share < 0.9 {
		t.Fatalf("hottest shard %+v (throttled %d)", hot, throttled)
	}
	if len(r.Advice) != 1 || !strings.Contains(r.Advice[0], `"session-1"`) || !strings.Contains(r.Advice[0], "raise key cardinality") {
		t.Fatalf("advice %q", r.Advice)
	}
	if r.Shards[1].Utilisation > 0.1 {
		t.Fatalf("cold shard %+v", r.Shards[1])
	}

	// Ten seconds later the window is empty; the keys of the last minutes
	// are still reported.
	clk.Advance(11e9)
	r, _ = e.Hot("clicks")
	if r.Shards[0].Utilisation != 0 || !strings.HasPrefix(r.Advice[0], "No shard is hot") {
		t.Fatalf("after the window: %+v", r)
	}
	if _, err := e.Hot("nope"); err == nil {
		t.Fatal("Hot of a missing stream succeeded")
	}
}
