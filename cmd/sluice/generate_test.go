package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestGenerateEventGolden(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		decode func([]byte) (int, error) // returns the record count
	}{
		{"get-records", []string{"kinesis", "get-records"}, decodeKinesis},
		{"get-records-3-clickstream", []string{"kinesis", "get-records", "--count", "3", "--stream", "clickstream", "--data", `{"event_type":"click"}`, "--partition-key", "session-1"}, decodeKinesis},
		{"kinesis-firehose", []string{"kinesis", "kinesis-firehose", "--data", "SGVsbG8gV29ybGQ="}, decodeFirehose},
		{"streams-as-source", []string{"kinesis", "streams-as-source", "--stream", "clickstream", "--delivery-stream", "archive", "--count", "2"}, decodeFirehose},
		{"tumbling-window", []string{"kinesis", "tumbling-window", "--final", "--window-seconds", "300"}, decodeWindow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := sluice(t, "", append([]string{"local", "generate-event"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if n, err := tc.decode([]byte(stdout)); err != nil || n == 0 {
				t.Fatalf("aws-lambda-go cannot decode the event (%d records): %v", n, err)
			}
			golden := filepath.Join("testdata", "generate-event", tc.name+".json")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				os.WriteFile(golden, []byte(stdout), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if stdout != string(want) {
				t.Errorf("output differs from %s:\n%s", golden, stdout)
			}
		})
	}
}

// TestGenerateEventFirehoseDirectPutHasNoKinesisMetadata: a Direct PUT
// transformation event carries no Kinesis record metadata and no source
// stream, as in AWS's sample event (the aws-lambda-go type would write a
// zero-time metadata block with approximateArrivalTimestamp -6795364578871).
func TestGenerateEventFirehoseDirectPutHasNoKinesisMetadata(t *testing.T) {
	code, stdout, stderr := sluice(t, "", "local", "generate-event", "kinesis", "kinesis-firehose", "--count", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(stdout), &ev); err != nil {
		t.Fatal(err)
	}
	if _, ok := ev["sourceKinesisStreamArn"]; ok {
		t.Error("a Direct PUT event names a source stream")
	}
	for i, r := range ev["records"].([]any) {
		rec := r.(map[string]any)
		if _, ok := rec["kinesisRecordMetadata"]; ok {
			t.Errorf("record %d carries kinesisRecordMetadata", i)
		}
		if ts, _ := rec["approximateArrivalTimestamp"].(float64); ts <= 0 {
			t.Errorf("record %d: approximateArrivalTimestamp %v", i, rec["approximateArrivalTimestamp"])
		}
	}
}

func TestGenerateEventErrors(t *testing.T) {
	for args, want := range map[string]string{
		"kinesis nope":                       `unknown kinesis event "nope"`,
		"sqs receive-message":                "name the event",
		"kinesis get-records --count 0":      "--count 0",
		"kinesis get-records --sequence 12x": "not a decimal sequence number",
	} {
		code, _, stderr := sluice(t, "", append([]string{"local", "generate-event"}, strings.Fields(args)...)...)
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q, want it to contain %q", args, code, stderr, want)
		}
	}
}

func decodeKinesis(b []byte) (int, error) {
	var e events.KinesisEvent
	err := json.Unmarshal(b, &e)
	return len(e.Records), err
}

func decodeFirehose(b []byte) (int, error) {
	var e events.KinesisFirehoseEvent
	err := json.Unmarshal(b, &e)
	return len(e.Records), err
}

func decodeWindow(b []byte) (int, error) {
	var e events.KinesisTimeWindowEvent
	if err := json.Unmarshal(b, &e); err != nil {
		return 0, err
	}
	if !e.IsFinalInvokeForWindow || e.Window.End.Sub(e.Window.Start.Time).Seconds() != 300 {
		return 0, nil
	}
	return len(e.Records), nil
}
