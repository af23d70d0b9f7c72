package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
)

// Device classes, as they appear in the device_class field.
const (
	desktop = "desktop"
	mobile  = "mobile"
	tablet  = "tablet"
	bot     = "bot"
)

// handle enriches every record of the batch, in order. A malformed record
// fails the whole invocation rather than being dropped: the event-source
// mapping retries, and with BisectBatchOnFunctionError isolates the record
// and sends it to the on-failure destination, where nothing is lost.
func handle(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
	out := make([]sdk.OutputRecord, 0, len(e.Records))
	for i, r := range e.Records {
		if err := ctx.Err(); err != nil {
			return sdk.StreamResponse{}, fmt.Errorf("enrich: stopped at record %d of %d: %w", i, len(e.Records), err)
		}
		data, err := enrich(r.Kinesis.Data)
		if err != nil {
			return sdk.StreamResponse{}, fmt.Errorf("enrich: record %d of %d (sequence number %s, partition key %q): %w",
				i+1, len(e.Records), r.Kinesis.SequenceNumber, r.Kinesis.PartitionKey, err)
		}
		out = append(out, sdk.OutputRecord{Data: data})
	}
	return sdk.StreamResponse{Records: out}, nil
}

// enrich returns the click event in data with device_class, event_hour
// ("2006-01-02T15", UTC) and event_date ("2006-01-02", UTC) added. Every
// original field is kept byte for byte, including fields this function does
// not know, so producers can add fields without redeploying it.
func enrich(data []byte) ([]byte, error) {
	var click map[string]json.RawMessage
	if err := json.Unmarshal(data, &click); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if click == nil {
		return nil, errors.New("not a JSON object: null")
	}
	for _, k := range []string{"event_id", "event_type"} {
		if _, err := stringField(click, k); err != nil {
			return nil, err
		}
	}
	ts, err := stringField(click, "timestamp")
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, fmt.Errorf("timestamp %q is not RFC 3339", ts)
	}
	t = t.UTC()
	// A missing or non-string user agent is not fatal: such a click still
	// counts, it just cannot be classified beyond "desktop".
	ua, _ := stringField(click, "user_agent")

	click["device_class"] = mustJSON(deviceClass(ua))
	click["event_hour"] = mustJSON(t.Format("2006-01-02T15"))
	click["event_date"] = mustJSON(t.Format("2006-01-02"))
	b, err := json.Marshal(click)
	if err != nil {
		return nil, fmt.Errorf("encode enriched event: %w", err)
	}
	return b, nil
}

func stringField(m map[string]json.RawMessage, key string) (string, error) {
	raw, ok := m[key]
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

func mustJSON(s string) json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // a Go string always encodes
	}
	return b
}

// deviceClass classifies a User-Agent header as desktop, mobile, tablet or
// bot. Crawlers are checked first because many of them (Googlebot for
// smartphones) also claim to be a phone; tablets before phones because iPad
// and Android tablet agents contain "Mobile" or "Android" too.
func deviceClass(userAgent string) string {
	ua := strings.ToLower(userAgent)
	switch {
	case ua == "":
		return desktop
	case containsAny(ua, "bot", "crawler", "spider", "slurp", "facebookexternalhit", "headlesschrome", "curl/", "wget/", "python-requests", "go-http-client"):
		return bot
	case containsAny(ua, "ipad", "tablet", "kindle", "silk/", "playbook"),
		strings.Contains(ua, "android") && !strings.Contains(ua, "mobile"):
		// Android phones say "Mobile"; Android tablets do not.
		return tablet
	case containsAny(ua, "mobile", "iphone", "ipod", "android", "windows phone", "blackberry", "opera mini"):
		return mobile
	default:
		return desktop
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
