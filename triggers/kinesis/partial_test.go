package kinesis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// TestReportBatchItemFailures walks the partial-response rules
// (docs/semantics.md, "ESM partial batch responses"): three records,
// MaximumRetryAttempts 1, and a function that answers every invocation the
// same way. It checks what each invocation received and what was discarded,
// including retry exhaustion after partial failures. Every row whose body a Go
// handler could return as a typed KinesisEventResponse runs twice: answered as
// JSON (read as Lambda reads it) and as that typed value (the typed invoke
// path, no JSON): both must come out the same.
func TestReportBatchItemFailures(t *testing.T) {
	id := func(i int) string { return fmt.Sprintf(`{"batchItemFailures":[{"itemIdentifier":"$%d"}]}`, i) }
	tests := []struct {
		name string
		body string // $N is replaced by the sequence number of record N
		// invocations: indexes of the records each invocation held
		invocations [][]int
		// discarded: first record index and size of each failure record
		discarded [][2]int
		partial   bool // functionError null (partial response) vs "Unhandled"
	}{
		{name: "empty array is success", body: `{"batchItemFailures":[]}`, invocations: [][]int{{0, 1, 2}}},
		{name: "null list is success", body: `{"batchItemFailures":null}`, invocations: [][]int{{0, 1, 2}}},
		{name: "empty object is success", body: `{}`, invocations: [][]int{{0, 1, 2}}},
		{name: "null body is success", body: `null`, invocations: [][]int{{0, 1, 2}}},
		{name: "empty string body is success", body: `""`, invocations: [][]int{{0, 1, 2}}},
		{name: "empty list body is success", body: `[]`, invocations: [][]int{{0, 1, 2}}},
		{name: "one failure moves the checkpoint before it; retries exhaust", body: id(1),
			invocations: [][]int{{0, 1, 2}, {1, 2}}, discarded: [][2]int{{1, 2}}, partial: true},
		{name: "lowest of several failures wins", body: `{"batchItemFailures":[{"itemIdentifier":"$2"},{"itemIdentifier":"$1"}]}`,
			invocations: [][]int{{0, 1, 2}, {1, 2}}, discarded: [][2]int{{1, 2}}, partial: true},
		{name: "failure of the first record retries all", body: id(0),
			invocations: [][]int{{0, 1, 2}, {0, 1, 2}}, discarded: [][2]int{{0, 3}}, partial: true},
		{name: "empty identifier is complete failure", body: `{"batchItemFailures":[{"itemIdentifier":""}]}`,
			invocations: [][]int{{0, 1, 2}, {0, 1, 2}}, discarded: [][2]int{{0, 3}}, partial: true},
		{name: "null identifier is complete failure", body: `{"batchItemFailures":[{"itemIdentifier":null}]}`,
			invocations: [][]int{{0, 1, 2}, {0, 1, 2}}, discarded: [][2]int{{0, 3}}, partial: true},
		{name: "missing identifier key is complete failure", body: `{"batchItemFailures":[{"foo":123}]}`,
			invocations: [][]int{{0, 1, 2}, {0, 1, 2}}, discarded: [][2]int{{0, 3}}, partial: true},
		{name: "unknown identifier is complete failure", body: `{"batchItemFailures":[{"itemIdentifier":"123"}]}`,
			invocations: [][]int{{0, 1, 2}, {0, 1, 2}}, discarded: [][2]int{{0, 3}}, partial: true},
		{name: "numeric identifier is complete failure", body: `{"batchItemFailures":[{"itemIdentifier":123}]}`,
			invocations: [][]int{{0, 1, 2}, {0, 1, 2}}, discarded: [][2]int{{0, 3}}, partial: true},
	}
	type mode struct {
		name  string
		typed bool
	}
	for _, tc := range tests {
		modes := []mode{{"json", false}}
		if json.Unmarshal([]byte(tc.body), &events.KinesisEventResponse{}) == nil {
			modes = append(modes, mode{"typed", true})
		}
		for _, md := range modes {
			t.Run(tc.name+"/"+md.name, func(t *testing.T) { runSpec1_8Row(t, tc.body, md.typed, tc.invocations, tc.discarded, tc.partial) })
		}
	}
}

func runSpec1_8Row(t *testing.T, body string, typed bool, invocations [][]int, discarded [][2]int, partial bool) {
	t.Helper()
	s := newScenario(t, "embedded", 1)
	s.put(t, []string{"a", "b", "c"}, []string{"k", "k", "k"})
	index := map[string]int{}
	for i, r := range s.recs {
		index[r.seq] = i
		body = strings.ReplaceAll(body, fmt.Sprintf("$%d", i), r.seq)
	}
	var mu sync.Mutex
	var got [][]int
	record := func(e events.KinesisEvent) {
		var in []int
		for _, r := range e.Records {
			in = append(in, index[r.Kinesis.SequenceNumber])
		}
		mu.Lock()
		got = append(got, in)
		mu.Unlock()
	}
	var handler any = func(_ context.Context, e events.KinesisEvent) (json.RawMessage, error) {
		record(e)
		return json.RawMessage(body), nil
	}
	if typed {
		var resp events.KinesisEventResponse
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatal(err)
		}
		handler = func(_ context.Context, e events.KinesisEvent) (events.KinesisEventResponse, error) {
			record(e)
			return resp, nil
		}
	}
	fd := newMemDest()
	cfg := kt.Config{ID: "rbif", FunctionName: "Fn", BatchSize: 10, ReportBatchItemFailures: true,
		MaximumRetryAttempts: 1, RetryAttemptsSet: true, OnFailureBucket: "failures"}
	_, stop := s.start(t, cfg, handler, nil, fd)
	s.waitDone(t, "rbif")
	stop()

	if !reflect.DeepEqual(got, invocations) {
		t.Errorf("invocations %v, want %v", got, invocations)
	}
	_, frs := fd.records(t)
	var disc [][2]int
	for _, fr := range frs {
		disc = append(disc, [2]int{index[fr.KinesisBatchInfo.StartSequenceNumber], fr.KinesisBatchInfo.BatchSize})
		if fr.ResponseContext == nil || (fr.ResponseContext.FunctionError == nil) != partial {
			t.Errorf("responseContext %+v: want functionError null=%v", fr.ResponseContext, partial)
		}
		// Both invocations held the discarded records.
		if c := fr.RequestContext.ApproximateInvokeCount; c != 2 {
			t.Errorf("approximateInvokeCount %d, want 2", c)
		}
	}
	if !reflect.DeepEqual(disc, discarded) {
		t.Errorf("discarded %v, want %v", disc, discarded)
	}
}

// TestRecordAgeExceeded discards records older than
// MaximumRecordAgeInSeconds before invoking, with the failure-record shape
// (docs/semantics.md, "ESM on-failure destination") for that condition: no
// responseContext and approximateInvokeCount 1.
func TestRecordAgeExceeded(t *testing.T) {
	s := newScenario(t, "embedded", 1)
	s.put(t, []string{"a", "b"}, []string{"k", "k"})
	invoked := make(chan struct{}, 10)
	handler := func(_ context.Context, e events.KinesisEvent) error { invoked <- struct{}{}; return nil }
	fd := newMemDest()
	cfg := kt.Config{ID: "age", FunctionName: "Fn", MaximumRecordAge: time.Minute, OnFailureBucket: "failures"}
	fn := s.startWithClock(t, cfg, handler, fd, func() time.Time { return time.Now().Add(61 * time.Second) })
	s.waitDone(t, "age")
	fn()
	if len(invoked) != 0 {
		t.Errorf("function invoked %d times with expired records", len(invoked))
	}
	_, frs := fd.records(t)
	if len(frs) != 1 || frs[0].KinesisBatchInfo.BatchSize != 2 {
		t.Fatalf("failure records %+v, want one of 2 records", frs)
	}
	fr := frs[0]
	if fr.RequestContext.Condition != kt.ConditionRecordAgeExceeded || fr.ResponseContext != nil || fr.RequestContext.ApproximateInvokeCount != 1 {
		t.Errorf("failure record %+v", fr)
	}
	raw := fd.objs[firstKey(fd)]
	var generic map[string]any
	json.Unmarshal(raw, &generic)
	if _, ok := generic["responseContext"]; ok {
		t.Errorf("responseContext present for RecordAgeExceeded: %s", raw)
	}
}

func firstKey(d *memDest) string {
	for k := range d.objs {
		return k
	}
	return ""
}
