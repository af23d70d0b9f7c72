package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
)

// response is Lambda's tumbling-window response (state and
// batchItemFailures, as events.KinesisTimeWindowEventResponse) plus the
// records for the function's delivery stream (as sdk.StreamResponse).
type response struct {
	State             map[string]string                `json:"state"`
	BatchItemFailures []events.KinesisBatchItemFailure `json:"batchItemFailures"`
	Records           []sdk.OutputRecord               `json:"records,omitempty"`
}

// Alert is one output record: a page whose clicks in a window exceeded
// K × Median.
type Alert struct {
	WindowStart string  `json:"window_start"`
	WindowEnd   string  `json:"window_end"`
	ShardID     string  `json:"shard_id"`
	Page        string  `json:"page"`
	Count       int     `json:"count"`
	Median      float64 `json:"median"`
	K           float64 `json:"k"`
}

// handle adds the batch's clicks to the window's per-page counts (state:
// page → decimal count) and, on the window's final invocation, turns the
// counts into alerts. A record that is not a click with a page is skipped:
// one malformed click must not hide a spike.
func handle(ctx context.Context, e events.KinesisTimeWindowEvent) (response, error) {
	counts := map[string]int{}
	for page, c := range e.State {
		n, err := strconv.Atoi(c)
		if err != nil {
			return response{}, fmt.Errorf("anomaly: state for %q is %q, not a count", page, c)
		}
		counts[page] = n
	}
	for _, r := range e.Records {
		var click struct {
			Page string `json:"page"`
		}
		if json.Unmarshal(r.Kinesis.Data, &click) != nil || click.Page == "" {
			continue
		}
		counts[click.Page]++
	}
	if !e.IsFinalInvokeForWindow {
		state := make(map[string]string, len(counts))
		for p, n := range counts {
			state[p] = strconv.Itoa(n)
		}
		return response{State: state}, nil
	}
	k := envFloat(ctx, "ANOMALY_K", 3)
	minCount := int(envFloat(ctx, "ANOMALY_MIN_COUNT", 20))
	var out []sdk.OutputRecord
	for _, a := range alerts(counts, k, minCount) {
		a.WindowStart = e.Window.Start.UTC().Format(time.RFC3339)
		a.WindowEnd = e.Window.End.UTC().Format(time.RFC3339)
		a.ShardID = e.ShardID
		data, _ := json.Marshal(a)
		out = append(out, sdk.OutputRecord{Data: data})
	}
	return response{State: map[string]string{}, Records: out}, nil
}

// alerts returns the pages whose count exceeds k × the median of all
// pages' counts and is at least minCount, ordered by page.
func alerts(counts map[string]int, k float64, minCount int) []Alert {
	if len(counts) == 0 {
		return nil
	}
	med := median(counts)
	var out []Alert
	for page, n := range counts {
		if n >= minCount && float64(n) > k*med {
			out = append(out, Alert{Page: page, Count: n, Median: med, K: k})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Page < out[j].Page })
	return out
}

func median(counts map[string]int) float64 {
	vals := make([]int, 0, len(counts))
	for _, n := range counts {
		vals = append(vals, n)
	}
	sort.Ints(vals)
	m := len(vals) / 2
	if len(vals)%2 == 1 {
		return float64(vals[m])
	}
	return float64(vals[m-1]+vals[m]) / 2
}

func envFloat(ctx context.Context, key string, def float64) float64 {
	if v := sdk.Env(ctx, key); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			return f
		}
	}
	return def
}
