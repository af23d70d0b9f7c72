package kinesis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// TestFilterCriteria: only matching records reach the function,
// BatchSize counts matching records, and filtered-out records — trailing
// ones included — still advance the checkpoint.
func TestFilterCriteria(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		s := newScenario(t, backend, 1)
		var data, keys []string
		for i := range 40 {
			typ := map[bool]string{true: "purchase", false: "view"}[i%4 == 0]
			data = append(data, fmt.Sprintf(`{"i":%d,"event_type":%q}`, i, typ))
			keys = append(keys, "k")
		}
		data = append(data, "not json at all") // last record: filtered out
		keys = append(keys, "k")
		s.put(t, data, keys)

		var mu sync.Mutex
		var got []string
		handler := func(_ context.Context, e events.KinesisEvent) error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range e.Records {
				got = append(got, string(r.Kinesis.Data))
			}
			return nil
		}
		cfg := kt.Config{ID: "filt", FunctionName: "Fn", BatchSize: 3, FilterPatterns: []string{`{"data":{"event_type":["purchase"]}}`}}
		_, stop := s.start(t, cfg, handler, nil, nil)
		s.waitDone(t, "filt") // the checkpoint reaches the trailing filtered record
		stop()
		if len(got) != 10 {
			t.Fatalf("function got %d records, want the 10 purchases: %v", len(got), got)
		}
		for _, d := range got {
			if !strings.Contains(d, "purchase") {
				t.Errorf("filtered record delivered: %s", d)
			}
		}
	})
}

// TestPayloadCap: a batch never exceeds the 6 MB invocation
// payload, even when BatchSize would allow more records.
func TestPayloadCap(t *testing.T) {
	s := newScenario(t, "embedded", 1)
	big := strings.Repeat("x", 1000*1000)
	for range 7 {
		s.put(t, []string{big}, []string{"k"})
	}
	var mu sync.Mutex
	var sizes []int
	handler := func(_ context.Context, e events.KinesisEvent) error {
		b, _ := json.Marshal(e)
		mu.Lock()
		sizes = append(sizes, len(b))
		mu.Unlock()
		return nil
	}
	_, stop := s.start(t, kt.Config{ID: "cap", FunctionName: "Fn", BatchSize: 100}, handler, nil, nil)
	s.waitDone(t, "cap")
	stop()
	if len(sizes) < 2 {
		t.Errorf("%d invocations for 7 MB of records; the cap must split them", len(sizes))
	}
	for _, n := range sizes {
		if n > kt.MaxPayloadBytes {
			t.Errorf("invocation payload %d bytes exceeds %d", n, kt.MaxPayloadBytes)
		}
	}
}
