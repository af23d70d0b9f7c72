package kinesis_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// TestTumblingWindow: the state a function returns reaches its
// next invocation in the same window, the final invocation
// (isFinalInvokeForWindow, no records) carries the aggregate, its output
// reaches the sink, and the checkpoint moves after it.
func TestTumblingWindow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		s := newScenario(t, backend, 1)
		data, keys := make([]string, 7), make([]string, 7)
		for i := range data {
			data[i], keys[i] = strconv.Itoa(i), "k"
		}
		s.put(t, data, keys)

		type call struct {
			window           time.Time
			records, stateIn int
			final            bool
		}
		var mu sync.Mutex
		var calls []call
		nonFinal := make(chan struct{}, 100)
		type resp struct {
			State   map[string]string  `json:"state"`
			Records []sdk.OutputRecord `json:"records,omitempty"`
		}
		handler := func(_ context.Context, e events.KinesisTimeWindowEvent) (resp, error) {
			n, _ := strconv.Atoi(e.State["count"])
			mu.Lock()
			calls = append(calls, call{e.Window.Start.Time, len(e.Records), n, e.IsFinalInvokeForWindow})
			mu.Unlock()
			if e.IsFinalInvokeForWindow {
				return resp{State: map[string]string{}, Records: []sdk.OutputRecord{{Data: []byte(strconv.Itoa(n))}}}, nil
			}
			nonFinal <- struct{}{}
			return resp{State: map[string]string{"count": strconv.Itoa(n + len(e.Records))}}, nil
		}
		// The window is a minute long; the clock jumps past its end once
		// the records are in, so the test does not wait for real time.
		var offset atomic.Int64
		sink := newRecordingSink()
		cfg := kt.Config{ID: "win", FunctionName: "Fn", BatchSize: 3, TumblingWindow: time.Minute}
		_, stop := s.startOpts(t, cfg, handler, sink, kt.Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
		for range 3 { // 7 records in batches of 3 (or more invocations if they straddle a window)
			<-nonFinal
		}
		offset.Store(int64(2 * time.Minute))
		s.waitDone(t, "win")
		stop()

		mu.Lock()
		defer mu.Unlock()
		perWindow := map[time.Time]int{}
		total := 0
		for _, c := range calls {
			if c.stateIn != perWindow[c.window] {
				t.Errorf("invocation %+v got state %d, want the %d records before it in its window", c, c.stateIn, perWindow[c.window])
			}
			if c.final {
				if c.records != 0 {
					t.Errorf("final invocation carried %d records", c.records)
				}
				total += c.stateIn
				delete(perWindow, c.window)
				continue
			}
			perWindow[c.window] += c.records
		}
		if total != 7 {
			t.Errorf("final invocations aggregated %d records, want 7 (calls %+v)", total, calls)
		}
		sum := 0
		for _, d := range sink.data() {
			n, _ := strconv.Atoi(d)
			sum += n
		}
		if sum != 7 {
			t.Errorf("sink got aggregates summing to %d, want 7", sum)
		}
	})
}
