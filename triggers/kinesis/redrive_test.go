package kinesis_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sinks/localdir"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// TestRedriveFromLocalBucket writes a failure record through the local
// bucket directory (the destination `sluice up` uses), reads it back, and
// replays it through a fixed and a still-broken function.
func TestRedriveFromLocalBucket(t *testing.T) {
	s := newScenario(t, "embedded", 1)
	s.put(t, []string{"1", "poison", "3"}, []string{"a", "b", "c"})
	root := t.TempDir()
	dir, err := localdir.New(filepath.Join(root, "buckets"), filepath.Join(root, "tmp"), filepath.Join(root, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	var invokes atomic.Int64
	cfg := kt.Config{ID: "redrive-map", FunctionName: "Fn", BisectBatchOnFunctionError: true,
		MaximumRetryAttempts: 0, RetryAttemptsSet: true, OnFailureBucket: "failures"}
	_, stop := s.start(t, cfg, poisonous(&invokes), nil, dir)
	s.waitDone(t, "redrive-map")
	stop()

	bucket := filepath.Join(root, "buckets", "failures")
	got, err := kt.ReadFailures(bucket, "redrive-map", time.Time{})
	if err != nil || len(got) != 1 {
		t.Fatalf("ReadFailures: %d records, %v", len(got), err)
	}
	if later, _ := kt.ReadFailures(bucket, "redrive-map", time.Now().Add(time.Hour)); len(later) != 0 {
		t.Errorf("--since in the future still returned %d records", len(later))
	}

	broken, _ := runtime.New(runtime.Config{Name: "Fn"}, poisonous(&invokes))
	res, _, err := kt.Redrive(context.Background(), broken, got[0].Record, false)
	if err != nil || len(res) != 1 || res[0].OK || res[0].PartitionKey != "b" {
		t.Errorf("broken function: %+v, %v", res, err)
	}
	fixed, _ := runtime.New(runtime.Config{Name: "Fn"}, func(context.Context, events.KinesisEvent) error { return nil })
	res, _, err = kt.Redrive(context.Background(), fixed, got[0].Record, false)
	if err != nil || len(res) != 1 || !res[0].OK || res[0].SequenceNumber != s.recs[1].seq {
		t.Errorf("fixed function: %+v, %v", res, err)
	}
}
