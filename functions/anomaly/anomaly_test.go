package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func clicks(pages ...string) []events.KinesisEventRecord {
	var out []events.KinesisEventRecord
	for _, p := range pages {
		out = append(out, events.KinesisEventRecord{Kinesis: events.KinesisRecord{Data: fmt.Appendf(nil, `{"page":%q}`, p)}})
	}
	return out
}

func repeat(p string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = p
	}
	return out
}

func TestCountsCrossInvocationsAndFinalInvokeAlerts(t *testing.T) {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ev := events.KinesisTimeWindowEvent{}
	ev.Window = events.Window{Start: events.RFC3339EpochTime{Time: start}, End: events.RFC3339EpochTime{Time: start.Add(time.Minute)}}
	ev.ShardID = "shardId-000000000000"

	var batch1 []string
	batch1 = append(batch1, repeat("/a", 10)...)
	batch1 = append(batch1, repeat("/b", 12)...)
	batch1 = append(batch1, repeat("/spike", 30)...)
	ev.Records = clicks(batch1...)
	ev.Records = append(ev.Records, events.KinesisEventRecord{Kinesis: events.KinesisRecord{Data: []byte("garbage")}})
	resp, err := handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/a": "10", "/b": "12", "/spike": "30"}
	if !reflect.DeepEqual(resp.State, want) || len(resp.Records) != 0 {
		t.Fatalf("state %v records %d, want %v and none", resp.State, len(resp.Records), want)
	}

	ev.State = resp.State
	ev.Records = clicks(append(repeat("/c", 11), repeat("/spike", 20)...)...)
	resp, _ = handle(context.Background(), ev)
	ev.State, ev.Records, ev.IsFinalInvokeForWindow = resp.State, nil, true
	resp, err = handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Records) != 1 {
		t.Fatalf("%d alerts, want 1", len(resp.Records))
	}
	var a Alert
	json.Unmarshal(resp.Records[0].Data, &a)
	// counts 10, 11, 12, 50 → median 11.5; 50 > 3 × 11.5.
	if a.Page != "/spike" || a.Count != 50 || a.Median != 11.5 || a.WindowStart != "2026-11-26T10:00:00Z" {
		t.Errorf("alert %+v", a)
	}
	if resp.State == nil {
		t.Error("final response must carry a state property")
	}
}

func TestAlertsThresholds(t *testing.T) {
	tests := []struct {
		counts map[string]int
		want   []string
	}{
		{map[string]int{"/a": 5, "/b": 100}, nil}, // two pages: the median is their mean, 52.5; 100 ≤ 3 × 52.5
		{map[string]int{"/a": 10, "/b": 10, "/c": 10}, nil},
		{map[string]int{"/a": 1, "/b": 1, "/c": 15}, nil}, // under the minimum count
		{map[string]int{"/a": 10, "/b": 10, "/c": 31}, []string{"/c"}},
		{map[string]int{}, nil},
	}
	for _, tc := range tests {
		var got []string
		for _, a := range alerts(tc.counts, 3, 20) {
			got = append(got, a.Page)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v: alerts %v, want %v", tc.counts, got, tc.want)
		}
	}
}
