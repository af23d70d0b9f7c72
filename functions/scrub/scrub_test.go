package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func TestScrub(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"ipv4 and PII", `{"event_id":"e1","ip":"81.116.17.97","user_id":"u-1","user_agent":"Mozilla/5.0","page":"/a"}`, `{"event_id":"e1","ip":"81.116.17.0","page":"/a"}`},
		{"ipv6", `{"ip":"2001:db8:85a3:0:0:8a2e:370:7334"}`, `{"ip":"2001:db8:85a3::"}`},
		{"ipv6 short", `{"ip":"2001:db8:85a3::1"}`, `{"ip":"2001:db8:85a3::"}`},
		{"not an address", `{"ip":"localhost"}`, `{"ip":null}`},
		{"numeric ip", `{"ip":12345}`, `{"ip":null}`},
		{"nested kept byte for byte", ` { "a" : [1, {"ip":"1.2.3.4"}], "email":"x@y", "b":12.50 } `, `{"a":[1, {"ip":"1.2.3.4"}],"b":12.50}`},
		{"only dropped", `{"user_id":"u"}`, `{}`},
		{"empty", `{}`, `{}`},
		{"escaped strings", `{"q":"a\"b,}","ip":"10.0.0.9"}`, `{"q":"a\"b,}","ip":"10.0.0.0"}`},
		{"escaped PII key dropped", `{"user\u005fid":"u-1","page":"/a"}`, `{"page":"/a"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scrub([]byte(tc.in), nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("scrub(%s)\n got %s\nwant %s", tc.in, got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("output is not JSON: %s", got)
			}
		})
	}
}

func TestScrubRejects(t *testing.T) {
	for _, in := range []string{``, `[1]`, `null`, `{"a":`, `{"a" 1}`, `{"a":1,}`, `{"a":"x}`, `{"a":1} x`, `{"a":[1,2}`} {
		if out, err := scrub([]byte(in), nil); err == nil {
			t.Errorf("scrub(%q) = %s, want an error", in, out)
		}
	}
}

// FuzzScrub: on any input scrub either fails or returns valid JSON that
// holds no dropped field, whenever encoding/json agrees the input is an object.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{`{"ip":"1.2.3.4","user_id":"u"}`, `{"a":[{"b":"\"}"}]}`, `{}`, `[]`, `{"ip":"::1"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := scrub(in, nil)
		var obj map[string]json.RawMessage
		valid := json.Unmarshal(in, &obj) == nil && obj != nil
		if err != nil {
			if valid && utf8.Valid(in) {
				t.Fatalf("scrub rejected the valid object %q: %v", in, err)
			}
			return
		}
		if !valid {
			t.Fatalf("scrub accepted %q, which encoding/json refuses", in)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("scrub(%q) = %q: not JSON: %v", in, out, err)
		}
		for _, d := range dropped {
			if _, ok := got[string(d)]; ok {
				t.Fatalf("scrub(%q) kept %s", in, d)
			}
		}
	})
}

func TestHandleSampleEvent(t *testing.T) {
	payload, err := os.ReadFile(filepath.Join("..", "..", "samples", "events", "kinesis-clickstream.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(handle).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Records []struct{ Data []byte }
	}
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Records) != 3 {
		t.Fatalf("response %s: %v", out, err)
	}
	for i, r := range resp.Records {
		var m map[string]any
		if err := json.Unmarshal(r.Data, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["user_agent"]; ok {
			t.Errorf("record %d kept user_agent: %s", i, r.Data)
		}
		if ip, _ := m["ip"].(string); !strings.HasSuffix(ip, ".0") {
			t.Errorf("record %d ip %q not anonymised", i, ip)
		}
	}
}

func TestHandleMalformedFailsTheBatch(t *testing.T) {
	_, err := handle(context.Background(), events.KinesisEvent{Records: []events.KinesisEventRecord{
		{Kinesis: events.KinesisRecord{SequenceNumber: "1", Data: []byte(`{}`)}},
		{Kinesis: events.KinesisRecord{SequenceNumber: "2", Data: []byte(`nope`)}},
	}})
	if err == nil || !strings.Contains(err.Error(), "record 2 of 2 (sequence number 2)") {
		t.Fatalf("got %v", err)
	}
}

// TestHandleSharesOneBuffer: records written into the batch's buffer do not
// overwrite one another, even when one grows (1 → null) past the size
// reserved for the batch.
func TestHandleSharesOneBuffer(t *testing.T) {
	ins := []string{`{"ip":1}`, `{"ip":"10.1.2.3","user_id":"u"}`, `{"a":[1]}`, `{"ip":2}`}
	want := []string{`{"ip":null}`, `{"ip":"10.1.2.0"}`, `{"a":[1]}`, `{"ip":null}`}
	var e events.KinesisEvent
	for _, in := range ins {
		e.Records = append(e.Records, events.KinesisEventRecord{Kinesis: events.KinesisRecord{Data: []byte(in)}})
	}
	resp, err := handle(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Records {
		if string(r.Data) != want[i] {
			t.Errorf("record %d = %s, want %s", i, r.Data, want[i])
		}
	}
}
