package kinesis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/sluice-dev/sluice/handover/handovertest"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// TestRedriveFromFailureStore lets a mapping write a failure record to its
// failure store, reads it back through the same interface, and replays it
// through a fixed and a still-broken function. (The app's redrive tests run
// the same path on the local bucket directory and on S3.)
func TestRedriveFromFailureStore(t *testing.T) {
	s := newScenario(t, "embedded", 1)
	s.put(t, []string{"1", "poison", "3"}, []string{"a", "b", "c"})
	dir := newMemDest()
	var invokes atomic.Int64
	cfg := kt.Config{ID: "redrive-map", FunctionName: "Fn", BisectBatchOnFunctionError: true,
		MaximumRetryAttempts: 0, RetryAttemptsSet: true, OnFailureBucket: "failures"}
	_, stop := s.start(t, cfg, poisonous(&invokes), nil, dir)
	s.waitDone(t, "redrive-map")
	stop()

	ctx := context.Background()
	keys, err := kt.FailureKeys(ctx, dir, "failures", "redrive-map", time.Time{})
	if err != nil || len(keys) != 1 {
		t.Fatalf("FailureKeys: %v, %v", keys, err)
	}
	if later, _ := kt.FailureKeys(ctx, dir, "failures", "redrive-map", time.Now().Add(time.Hour)); len(later) != 0 {
		t.Errorf("--since in the future still listed %d records", len(later))
	}
	body, err := dir.GetFailure(ctx, "failures", keys[0])
	if err != nil {
		t.Fatal(err)
	}
	var fr kt.FailureRecord
	if err := json.Unmarshal(body, &fr); err != nil {
		t.Fatal(err)
	}
	broken, _ := runtime.New(runtime.Config{Name: "Fn"}, poisonous(&invokes))
	res, _, err := kt.Redrive(ctx, broken, fr, false)
	if err != nil || len(res) != 1 || res[0].OK || res[0].PartitionKey != "b" {
		t.Errorf("broken function: %+v, %v", res, err)
	}
	fixed, _ := runtime.New(runtime.Config{Name: "Fn"}, func(context.Context, events.KinesisEvent) error { return nil })
	res, _, err = kt.Redrive(ctx, fixed, fr, false)
	if err != nil || len(res) != 1 || !res[0].OK || res[0].SequenceNumber != s.recs[1].seq {
		t.Errorf("fixed function: %+v, %v", res, err)
	}
}

var errInterrupted = errors.New("interrupted between acceptance and marking")

// TestRedriveDeliversExactlyOnceAcrossInterruption redrives three failure
// records into an acceptor that keeps its checkpoints (the hand-over
// contract's in-memory one; internal/app runs the same sequence against a
// real delivery stream on a local directory and on S3). The first run is interrupted
// after the second record's output was durably accepted and before its
// marker was written; the rerun must complete that record without invoking
// the function or delivering again, skip the first and deliver the third.
// A third run skips everything; --again delivers everything once more.
func TestRedriveDeliversExactlyOnceAcrossInterruption(t *testing.T) {
	{
		{
			ctx := context.Background()
			store := newMemDest()
			archive := &handovertest.Memory{}
			at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
			var keys []string
			for i := range 3 {
				keys = append(keys, putFailure(t, store, "failures", "map-1", at.Add(time.Duration(i)*time.Second),
					fmt.Sprintf("r%d-a", i), fmt.Sprintf("r%d-b", i)))
			}
			listed, err := kt.FailureKeys(ctx, store, "failures", "map-1", time.Time{})
			if err != nil || strings.Join(listed, ",") != strings.Join(keys, ",") {
				t.Fatalf("FailureKeys = %v, %v; want %v", listed, err, keys)
			}
			var invokes atomic.Int64
			fixed := fixedFunction(t, &invokes)
			run := func(again bool, afterAccept func(string) error) ([]kt.RedriveStatus, error) {
				var got []kt.RedriveStatus
				err := kt.RedriveFailures(ctx, kt.RedriveConfig{
					Store: store, Bucket: "failures", MappingID: "map-1", Again: again,
					Function: fixed, Sink: archive, SinkName: "archive", AfterAccept: afterAccept,
					OnOutcome: func(o kt.RedriveOutcome) { got = append(got, o.Status) },
				}, keys)
				return got, err
			}

			got, err := run(false, func(key string) error {
				if key == keys[1] {
					return errInterrupted
				}
				return nil
			})
			if !errors.Is(err, errInterrupted) || fmt.Sprint(got) != "[delivered]" {
				t.Fatalf("interrupted run: %v, %v", got, err)
			}
			if n := invokes.Swap(0); n != 2 {
				t.Fatalf("interrupted run invoked %d times, want 2", n)
			}
			got, err = run(false, nil)
			if err != nil || fmt.Sprint(got) != "[skipped recovered delivered]" {
				t.Fatalf("rerun: %v, %v", got, err)
			}
			if n := invokes.Swap(0); n != 1 {
				t.Errorf("rerun invoked %d times, want 1 (only the record never accepted)", n)
			}
			assertArchive(t, archive, 1)

			got, err = run(false, nil)
			if err != nil || fmt.Sprint(got) != "[skipped skipped skipped]" || invokes.Load() != 0 {
				t.Fatalf("third run: %v, %v, %d invocations", got, err, invokes.Load())
			}
			got, err = run(true, nil)
			if err != nil || fmt.Sprint(got) != "[delivered delivered delivered]" {
				t.Fatalf("--again: %v, %v", got, err)
			}
			assertArchive(t, archive, 2)
			body, err := store.GetFailure(ctx, "failures", kt.RedrivenPrefix+keys[1])
			var m kt.RedriveMarker
			if err != nil || json.Unmarshal(body, &m) != nil || m.Generation != 2 || m.DeliveryStream != "archive" || m.OutputRecords != 2 {
				t.Errorf("marker after --again: %s, %v", body, err)
			}
		}
	}
}

// TestRedriveFailedAgainDeliversNothing: a failure record the function
// still fails on delivers none of its records (not even those it
// processed) and stays unmarked, so a redrive after the next fix replays
// all of it.
func TestRedriveFailedAgainDeliversNothing(t *testing.T) {
	ctx := context.Background()
	store := newMemDest()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	bad := putFailure(t, store, "failures", "m", at, "ok-1", "poison")
	good := putFailure(t, store, "failures", "m", at.Add(2*time.Second), "ok-2")
	var invokes atomic.Int64
	fn := fixedFunction(t, &invokes)
	d := &handovertest.Memory{}
	var outcomes []kt.RedriveOutcome
	err := kt.RedriveFailures(ctx, kt.RedriveConfig{Store: store, Bucket: "failures", MappingID: "m", Function: fn, Sink: d, SinkName: "archive",
		OnOutcome: func(o kt.RedriveOutcome) { outcomes = append(outcomes, o) }}, []string{bad, good})
	if err != nil {
		t.Fatal(err)
	}
	if len(outcomes) != 2 || outcomes[0].Status != kt.StatusFailed || outcomes[0].FailedRecords() != 2 || outcomes[1].Status != kt.StatusDelivered {
		t.Fatalf("outcomes: %+v", outcomes)
	}
	if _, err := store.GetFailure(ctx, "failures", kt.RedrivenPrefix+bad); !errors.Is(err, errNoObject) {
		t.Errorf("the failed record was marked: %v", err)
	}
	ids := archiveIDs(t, d)
	if len(ids) != 1 || ids["ok-2"] != 1 {
		t.Errorf("archive holds %v, want only ok-2", ids)
	}
	// --since after the first record's second leaves it out.
	keys, _ := kt.FailureKeys(ctx, store, "failures", "m", at.Add(time.Second))
	if len(keys) != 1 || keys[0] != good {
		t.Errorf("FailureKeys --since: %v", keys)
	}
}

// putFailure writes a failure record shaped as the mapping writes it,
// holding one Kinesis record per data item.
func putFailure(t *testing.T, store kt.FailureDestination, bucket, mappingID string, at time.Time, data ...string) string {
	t.Helper()
	ev := events.KinesisEvent{}
	for i, d := range data {
		ev.Records = append(ev.Records, events.KinesisEventRecord{EventSource: "aws:kinesis", Kinesis: events.KinesisRecord{
			Data: []byte(d), PartitionKey: "pk-" + d, SequenceNumber: fmt.Sprintf("4960%d%03d", at.Unix(), i),
			ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: at},
		}})
	}
	fr := kt.FailureRecord{Version: "1.0", Timestamp: at.UTC().Format("2006-01-02T15:04:05.000Z"),
		KinesisBatchInfo: kt.KinesisBatchInfo{ShardID: "shardId-000000000000", BatchSize: len(data)}, Payload: &ev}
	body, _ := json.Marshal(fr)
	key := kt.FailureKey(mappingID, "shardId-000000000000", at, uuid.NewString())
	if err := store.PutFailure(context.Background(), bucket, key, body, len(data)); err != nil {
		t.Fatal(err)
	}
	return key
}

// fixedFunction outputs {"id": data} per record and fails on "poison".
func fixedFunction(t *testing.T, invokes *atomic.Int64) runtime.Invoker {
	t.Helper()
	fn, err := runtime.New(runtime.Config{Name: "Fn", Timeout: 10 * time.Second}, func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
		invokes.Add(1)
		var resp sdk.StreamResponse
		for _, r := range e.Records {
			if string(r.Kinesis.Data) == "poison" {
				return sdk.StreamResponse{}, errors.New("still cannot parse it")
			}
			data, _ := json.Marshal(map[string]string{"id": string(r.Kinesis.Data)})
			resp.Records = append(resp.Records, sdk.OutputRecord{Data: data})
		}
		return resp, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

// archiveIDs counts the ids in every record the archive accepted.
func archiveIDs(t *testing.T, archive *handovertest.Memory) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, data := range archive.Data() {
		var v struct{ ID string }
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		ids[v.ID]++
	}
	return ids
}

// assertArchive checks that each of the six output records is in the
// archive exactly n times.
func assertArchive(t *testing.T, archive *handovertest.Memory, n int) {
	t.Helper()
	ids := archiveIDs(t, archive)
	var bad []string
	for i := range 3 {
		for _, s := range []string{"a", "b"} {
			id := fmt.Sprintf("r%d-%s", i, s)
			if ids[id] != n {
				bad = append(bad, fmt.Sprintf("%s×%d", id, ids[id]))
			}
			delete(ids, id)
		}
	}
	for id, c := range ids {
		bad = append(bad, fmt.Sprintf("unexpected %s×%d", id, c))
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("archive, want each record %d times: %v", n, bad)
	}
}
