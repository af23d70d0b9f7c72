package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestEnrichBytes pins the exact output: the original bytes up to the last
// member, then the added fields; members being replaced are left out and
// everything else stays as written.
func TestEnrichBytes(t *testing.T) {
	const added = `,"device_class":"desktop","event_hour":"2026-01-02T03","event_date":"2026-01-02"}`
	const base = `"event_id":"e1","event_type":"click","timestamp":"2026-01-02T03:04:05Z"`
	for _, tc := range []struct{ name, in, want string }{
		{"plain", `{` + base + `}`, `{` + base + added},
		{"unknown fields byte for byte", `{` + base + `,"price":12.50,"n":{"a":[1, 2,{"b":"}"}]}}`, `{` + base + `,"price":12.50,"n":{"a":[1, 2,{"b":"}"}]}` + added},
		{"whitespace around the object", " \n\t{" + base + "}\r\n ", `{` + base + added},
		{"whitespace inside kept", `{ "event_id" : "e1" , "event_type":"click","timestamp":"2026-01-02T03:04:05Z" }`, `{ "event_id" : "e1" , "event_type":"click","timestamp":"2026-01-02T03:04:05Z"` + added},
		{"duplicate device_class replaced", `{"device_class":"stale",` + base + `}`, `{` + base + added},
		{"every added field replaced", `{"event_date":"x",` + base + `,"event_hour":1,"device_class":null}`, `{` + base + added},
		{"replaced field written escaped", `{"device\u005fclass":"stale",` + base + `}`, `{` + base + added},
		{"replaced field last", `{` + base + `, "device_class" : {"nested":[1]} }`, `{` + base + added},
		{"escaped user agent", `{` + base + `,"user_agent":"Mozilla/5.0 (\u0069Pad; \"quoted\")"}`, `{` + base + `,"user_agent":"Mozilla/5.0 (\u0069Pad; \"quoted\")"` + strings.Replace(added, "desktop", "tablet", 1)},
		{"unicode user agent", `{` + base + `,"user_agent":"Ünïcødé Mobile 📱"}`, `{` + base + `,"user_agent":"Ünïcødé Mobile 📱"` + strings.Replace(added, "desktop", "mobile", 1)},
		{"surrogate pair escape", `{` + base + `,"user_agent":"\ud83d\udcf1 Mobile"}`, `{` + base + `,"user_agent":"\ud83d\udcf1 Mobile"` + strings.Replace(added, "desktop", "mobile", 1)},
		{"non-string user agent", `{` + base + `,"user_agent":7}`, `{` + base + `,"user_agent":7` + added},
		{"last duplicate decides", `{"event_id":7,` + base + `,"user_agent":"curl/8","user_agent":"iPhone Mobile"}`, `{"event_id":7,` + base + `,"user_agent":"curl/8","user_agent":"iPhone Mobile"` + strings.Replace(added, "desktop", "mobile", 1)},
		{"timestamp offset", `{"event_id":"e1","event_type":"click","timestamp":"2026-01-02T04:04:05+01:00"}`, `{"event_id":"e1","event_type":"click","timestamp":"2026-01-02T04:04:05+01:00"` + added},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := enrich([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("enrich(%s)\n got %s\nwant %s", tc.in, got, tc.want)
			}
			if err := sameAsReflect([]byte(tc.in), got); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestHandleSharesOneBuffer: records written into the batch's buffer do not
// overwrite one another.
func TestHandleSharesOneBuffer(t *testing.T) {
	e := loadEvent(t, "kinesis-clickstream.json")
	resp, err := handle(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range e.Records {
		want, err := enrich(r.Kinesis.Data)
		if err != nil {
			t.Fatal(err)
		}
		if string(resp.Records[i].Data) != string(want) {
			t.Errorf("record %d = %s, want %s", i, resp.Records[i].Data, want)
		}
		if cap(resp.Records[i].Data) != len(resp.Records[i].Data) {
			t.Errorf("record %d has spare capacity: an append would overwrite the next record", i)
		}
	}
}

// enrichReflect is the encoding/json implementation enrich replaced, kept as
// the reference the tests and the fuzz target compare against.
func enrichReflect(data []byte) ([]byte, error) {
	var click map[string]json.RawMessage
	if err := json.Unmarshal(data, &click); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if click == nil {
		return nil, errors.New("not a JSON object: null")
	}
	str := func(key string) (string, error) {
		raw, ok := click[key]
		if !ok {
			return "", fmt.Errorf("missing %s", key)
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%s is not a string: %s", key, raw)
		}
		if s == "" {
			return "", fmt.Errorf("empty %s", key)
		}
		return s, nil
	}
	for _, k := range []string{"event_id", "event_type"} {
		if _, err := str(k); err != nil {
			return nil, err
		}
	}
	ts, err := str("timestamp")
	if err != nil {
		return nil, err
	}
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, fmt.Errorf("timestamp %q is not RFC 3339", ts)
	}
	tm = tm.UTC()
	ua, _ := str("user_agent")
	click["device_class"], _ = json.Marshal(deviceClass(ua))
	click["event_hour"], _ = json.Marshal(tm.Format("2006-01-02T15"))
	click["event_date"], _ = json.Marshal(tm.Format("2006-01-02"))
	return json.Marshal(click)
}

// sameAsReflect checks that got decodes to what the reflection-based
// implementation produces for in.
func sameAsReflect(in, got []byte) error {
	want, err := enrichReflect(in)
	if err != nil {
		return fmt.Errorf("the reference rejects %q: %v", in, err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Errorf("output %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		return err
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Errorf("enrich(%q)\n got %s\nwant %s (encoding/json)", in, got, want)
	}
	return nil
}

// FuzzEnrich: enrich accepts exactly what the encoding/json version
// accepted and its output decodes to the same object. Inputs with
// duplicate keys are only checked for acceptance: the output keeps every
// occurrence of a key it does not replace, where a map kept the last.
func FuzzEnrich(f *testing.F) {
	for _, s := range []string{
		`{"event_id":"e1","event_type":"click","timestamp":"2026-01-02T03:04:05Z","user_agent":"iPad"}`,
		`{"event_id":"e1","event_type":"click","timestamp":"2026-01-02T03:04:05.5+01:00","device_class":"x","n":[{"a":"}"}]}`,
		`{"event\u005fid":"\ud83d\udcf1","event_type":"c","timestamp":"2026-01-02T03:04:05Z"}`,
		` {"event_id":"e","event_type":"c","timestamp":"2026-01-02T03:04:05Z"} `,
		`null`, `[1]`, `{"event_id":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := enrich(in)
		_, refErr := enrichReflect(in)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("enrich(%q): %v; encoding/json version: %v", in, err, refErr)
		}
		if err != nil || hasDuplicateKeys(in) {
			return
		}
		if err := sameAsReflect(in, got); err != nil {
			t.Fatal(err)
		}
	})
}

func hasDuplicateKeys(in []byte) bool {
	dec := json.NewDecoder(strings.NewReader(string(in)))
	if _, err := dec.Token(); err != nil {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return false
		}
		if seen[k.(string)] {
			return true
		}
		seen[k.(string)] = true
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
	}
	return false
}

// BenchmarkEnrich compares the reflection-based implementation with the
// current one on a realistic ~400-byte click event.
func BenchmarkEnrich(b *testing.B) {
	in := []byte(`{"event_id":"0b6f2c1e-8d4a-4f3b-9a61-000000000042","user_id":"u-000042","session_id":"s-5f2d9c7a1e3b4d60","page":"/products/42","referrer":"https://www.google.com/","event_type":"page_view","timestamp":"2026-01-02T03:04:05.678Z","user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1","ip":"81.116.17.42","country":"DE"}`)
	for _, tc := range []struct {
		name string
		fn   func([]byte) ([]byte, error)
	}{
		{"encoding-json", enrichReflect},
		{"jsonobj-append", enrich},
		{"jsonobj-append-shared-buffer", func(d []byte) ([]byte, error) { return appendEnriched(sharedBuf[:0], d) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := tc.fn(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var sharedBuf = make([]byte, 0, 1024)

func TestHourAndDate(t *testing.T) {
	for _, ts := range []string{"2026-01-02T03:04:05Z", "2026-12-31T23:59:59.999-01:00", "0000-01-01T00:30:00+01:00", "9999-12-31T23:00:00-02:00", "0001-02-03T04:05:06Z"} {
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatal(err)
		}
		tm = tm.UTC()
		hour, date := hourAndDate(tm)
		if hour != tm.Format("2006-01-02T15") || date != tm.Format("2006-01-02") {
			t.Errorf("hourAndDate(%s) = %s, %s; time.Format gives %s, %s", tm, hour, date, tm.Format("2006-01-02T15"), tm.Format("2006-01-02"))
		}
	}
}

func TestLower(t *testing.T) {
	for _, s := range []string{"", "Mozilla/5.0 (iPad)", "ALL CAPS", "Ünïcødé", "\u212aindle", "İ"} {
		if got, want := string(lower(nil, s)), strings.ToLower(s); got != want {
			t.Errorf("lower(%q) = %q, want %q", s, got, want)
		}
	}
}
