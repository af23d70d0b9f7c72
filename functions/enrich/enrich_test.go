package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func TestDeviceClass(t *testing.T) {
	for _, tc := range []struct{ ua, want string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", desktop},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", desktop},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", desktop},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87", desktop},
		{"", desktop},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", mobile},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36", mobile},
		{"Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", mobile},
		{"Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54", mobile},
		{"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", tablet},
		{"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Safari/537.36", tablet},
		{"Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/537.36 (KHTML, like Gecko) Silk/3.68 like Chrome/39.0.2171.93 Safari/537.36", tablet},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", bot},
		{"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", bot},
		{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", bot},
		{"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", bot},
		{"curl/8.5.0", bot},
	} {
		if got := deviceClass(tc.ua); got != tc.want {
			t.Errorf("deviceClass(%q) = %s, want %s", tc.ua, got, tc.want)
		}
	}
}

func TestEnrich(t *testing.T) {
	in := `{"event_id":"e1","event_type":"click","timestamp":"2026-01-02T23:59:59.999+01:00","user_agent":"Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X)","price":12.50,"tags":["a"],"device_class":"stale"}`
	out, err := enrich([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"event_id": "e1", "event_type": "click", "timestamp": "2026-01-02T23:59:59.999+01:00",
		"user_agent": "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X)", "price": 12.5, "tags": []any{"a"},
		"device_class": "tablet", "event_hour": "2026-01-02T22", "event_date": "2026-01-02",
	}
	if len(m) != len(want) {
		t.Fatalf("got %s", out)
	}
	for k, v := range want {
		if gb, _ := json.Marshal(m[k]); string(gb) != string(must(json.Marshal(v))) {
			t.Errorf("%s = %s, want %v", k, gb, v)
		}
	}
	// Unknown fields are kept byte for byte (12.50 is not rewritten).
	if !strings.Contains(string(out), `"price":12.50`) {
		t.Errorf("unknown field rewritten: %s", out)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestEnrichRejectsMalformed(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"not json":         {`{"event_id":`, "not a JSON object"},
		"array":            {`[1,2]`, "not a JSON object"},
		"null":             {`null`, "not a JSON object"},
		"no event_id":      {`{"event_type":"click","timestamp":"2026-01-02T03:04:05Z"}`, "missing event_id"},
		"empty event_type": {`{"event_id":"e","event_type":"","timestamp":"2026-01-02T03:04:05Z"}`, "empty event_type"},
		"numeric event_id": {`{"event_id":7,"event_type":"click","timestamp":"2026-01-02T03:04:05Z"}`, "event_id is not a string"},
		"no timestamp":     {`{"event_id":"e","event_type":"click"}`, "missing timestamp"},
		"bad timestamp":    {`{"event_id":"e","event_type":"click","timestamp":"yesterday"}`, "not RFC 3339"},
		"epoch timestamp":  {`{"event_id":"e","event_type":"click","timestamp":1767323045}`, "timestamp is not a string"},
		"null event_id":    {`{"event_id":null,"event_type":"click","timestamp":"2026-01-02T03:04:05Z"}`, "empty event_id"},
		"string":           {`"click"`, "not a JSON object: a string"},
		"number":           {`42`, "not a JSON object: a number"},
		"empty input":      {``, "not a JSON object"},
		"only whitespace":  {" \n ", "not a JSON object"},
		"trailing garbage": {`{"event_id":"e","event_type":"click","timestamp":"2026-01-02T03:04:05Z"} x`, "not a JSON object"},
		"two objects":      {`{"event_id":"e"}{"event_type":"click"}`, "not a JSON object"},
		"bad escape":       {`{"event_id":"\q","event_type":"click","timestamp":"2026-01-02T03:04:05Z"}`, "not a JSON object"},
		"control char":     {"{\"event_id\":\"a\tb\",\"event_type\":\"click\",\"timestamp\":\"2026-01-02T03:04:05Z\"}", "not a JSON object"},
		"escaped key":      {`{"event\u005fid":"","event_type":"click","timestamp":"2026-01-02T03:04:05Z"}`, "empty event_id"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := enrich([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("enrich(%s) = %v, want an error containing %q", tc.in, err, tc.want)
			}
		})
	}
}

func loadEvent(t *testing.T, name string) events.KinesisEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "samples", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	var e events.KinesisEvent
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return e
}

func TestHandleSampleEvent(t *testing.T) {
	e := loadEvent(t, "kinesis-clickstream.json")
	resp, err := handle(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("batch item failures %v", resp.BatchItemFailures)
	}
	want := []struct{ id, class, hour string }{
		{"0b6f2c1e-8d4a-4f3b-9a61-2f0e5d7c9b13", desktop, "2026-01-02T03"},
		{"7d3e9a40-51c2-4b8e-a7f9-c4d2b6e81f05", mobile, "2026-01-02T03"}, // event time, not arrival (04:00:00.015)
		{"e41c8b27-0f9d-4a6e-8b35-91d7f2a6c4e8", bot, "2026-01-02T04"},
	}
	if len(resp.Records) != len(want) {
		t.Fatalf("%d output records, want %d", len(resp.Records), len(want))
	}
	for i, w := range want {
		data := resp.Records[i].Data
		if strings.HasSuffix(string(data), "\n") {
			t.Errorf("record %d ends with a newline", i)
		}
		var in, got map[string]any
		if err := json.Unmarshal(e.Records[i].Kinesis.Data, &in); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		if got["event_id"] != w.id || got["device_class"] != w.class || got["event_hour"] != w.hour || got["event_date"] != "2026-01-02" {
			t.Errorf("record %d: %s", i, data)
		}
		for k, v := range in {
			if got[k] != v {
				t.Errorf("record %d: field %s = %v, want the original %v", i, k, got[k], v)
			}
		}
	}
}

func TestHandleMalformedEventNamesTheRecord(t *testing.T) {
	e := loadEvent(t, "kinesis-clickstream-malformed.json")
	resp, err := handle(context.Background(), e)
	if err == nil {
		t.Fatalf("no error; response %+v", resp)
	}
	bad := e.Records[1].Kinesis
	for _, s := range []string{bad.SequenceNumber, bad.PartitionKey, "record 2 of 3"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %q", err, s)
		}
	}
}

func TestHandleEmptyBatch(t *testing.T) {
	resp, err := handle(context.Background(), events.KinesisEvent{})
	if err != nil || len(resp.Records) != 0 {
		t.Fatalf("got %+v, %v", resp, err)
	}
}

// TestLambdaPath runs the sample event through aws-lambda-go's own
// decode → call → encode path, as the Lambda bootstrap build would.
func TestLambdaPath(t *testing.T) {
	payload, err := os.ReadFile(filepath.Join("..", "..", "samples", "events", "kinesis-clickstream.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(handle).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		BatchItemFailures []events.KinesisBatchItemFailure `json:"batchItemFailures"`
		Records           []struct {
			Data []byte `json:"data"`
		} `json:"records"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("decode response %s: %v", out, err)
	}
	if len(resp.Records) != 3 || len(resp.BatchItemFailures) != 0 || !strings.Contains(string(resp.Records[2].Data), `"device_class":"bot"`) {
		t.Fatalf("response %s", out)
	}
}
