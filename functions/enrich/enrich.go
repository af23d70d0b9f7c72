package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
	"github.com/valyala/fastjson"

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
//
// The output records share one buffer sized for the whole batch: one
// allocation per batch instead of one per record (a Go guest compiled to
// WASM pays dearly for each).
func handle(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
	out := make([]sdk.OutputRecord, 0, len(e.Records))
	size := 0
	for _, r := range e.Records {
		size += len(r.Kinesis.Data) + addedSize
	}
	buf := make([]byte, 0, size)
	for i, r := range e.Records {
		if err := ctx.Err(); err != nil {
			return sdk.StreamResponse{}, fmt.Errorf("enrich: stopped at record %d of %d: %w", i, len(e.Records), err)
		}
		start := len(buf)
		var err error
		buf, err = appendEnriched(buf, r.Kinesis.Data)
		if err != nil {
			return sdk.StreamResponse{}, fmt.Errorf("enrich: record %d of %d (sequence number %s, partition key %q): %w",
				i+1, len(e.Records), r.Kinesis.SequenceNumber, r.Kinesis.PartitionKey, err)
		}
		// The full slice expression keeps a later append from writing
		// into this record should the buffer still have room.
		out = append(out, sdk.OutputRecord{Data: buf[start:len(buf):len(buf)]})
	}
	return sdk.StreamResponse{Records: out}, nil
}

// addedFields are the fields enrich adds, in the order it writes them.
var addedFields = [...]string{"device_class", "event_hour", "event_date"}

// addedSize is room for the added fields of one record:
// ,"device_class":"desktop","event_hour":"2006-01-02T15","event_date":"2006-01-02"
// is 78 bytes.
const addedSize = 80

// enrich returns the click event in data with device_class, event_hour
// ("2006-01-02T15", UTC) and event_date ("2006-01-02", UTC) added.
func enrich(data []byte) ([]byte, error) {
	return appendEnriched(make([]byte, 0, len(data)+addedSize), data)
}

// appendEnriched appends the enriched click event in data to dst. Every
// original field is kept byte for byte, including fields this function does
// not know, so producers can add fields without redeploying it: the added
// fields are appended before the closing brace. An event that already has
// one of them gets the new value instead (the object is rebuilt without the
// old member), as it would with a decoded map.
//
// It does not use encoding/json: reflection-based decoding into a map cost
// ~29% of the pipeline's CPU natively and far more in a WASM guest. The
// record is validated by fastjson (strict, no allocation) and then walked
// once at the top level; nested values are skipped, never decoded.
func appendEnriched(dst, data []byte) ([]byte, error) {
	if err := fastjson.ValidateBytes(data); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	open := skipSpace(data, 0)
	switch data[open] {
	case '{':
	case 'n':
		return nil, errors.New("not a JSON object: null")
	default:
		return nil, fmt.Errorf("not a JSON object: %s", kindOf(data[open]))
	}
	// A duplicate key is decided by its last occurrence, as encoding/json
	// decides it.
	var eventID, eventType, ts, userAgent []byte
	replace := false
	last := open + 1 // end of the last member's value
	for it := newMembers(data, open); ; {
		m, ok := it.next()
		if !ok {
			break
		}
		last = m.valEnd
		switch string(keyName(data[m.keyStart:m.keyEnd])) {
		case "event_id":
			eventID = data[m.valStart:m.valEnd]
		case "event_type":
			eventType = data[m.valStart:m.valEnd]
		case "timestamp":
			ts = data[m.valStart:m.valEnd]
		case "user_agent":
			userAgent = data[m.valStart:m.valEnd]
		case addedFields[0], addedFields[1], addedFields[2]:
			replace = true
		}
	}
	if err := requireString("event_id", eventID); err != nil {
		return nil, err
	}
	if err := requireString("event_type", eventType); err != nil {
		return nil, err
	}
	tsValue, err := stringField("timestamp", ts)
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339Nano, tsValue)
	if err != nil {
		return nil, fmt.Errorf("timestamp %q is not RFC 3339", tsValue)
	}
	t = t.UTC()
	// A missing or non-string user agent is not fatal: such a click still
	// counts, it just cannot be classified beyond "desktop".
	ua, _ := stringField("user_agent", userAgent)

	class := deviceClass(ua)
	hour, date := hourAndDate(t)
	added := [len(addedFields)]string{class, hour, date} // in addedFields' order

	if !replace {
		dst = append(dst, data[open:last]...)
	} else {
		// Rare: rebuild the object without the members being replaced.
		dst = append(dst, '{')
		for it := newMembers(data, open); ; {
			m, ok := it.next()
			if !ok {
				break
			}
			switch string(keyName(data[m.keyStart:m.keyEnd])) {
			case addedFields[0], addedFields[1], addedFields[2]:
				continue
			}
			if dst[len(dst)-1] != '{' {
				dst = append(dst, ',')
			}
			dst = append(dst, data[m.keyStart:m.valEnd]...)
		}
	}
	for i, k := range addedFields {
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, '"', ':')
		dst = appendQuoted(dst, added[i])
	}
	return append(dst, '}'), nil
}

// stringField decodes the raw JSON value of a required string field (nil:
// the field is missing). null decodes to "" as with encoding/json, so it is
// reported empty.
func stringField(key string, raw []byte) (string, error) {
	switch {
	case raw == nil:
		return "", fmt.Errorf("missing %s", key)
	case string(raw) == "null":
		return "", fmt.Errorf("empty %s", key)
	case raw[0] != '"':
		return "", fmt.Errorf("%s is not a string: %s", key, raw)
	}
	s := unquote(raw)
	if s == "" {
		return "", fmt.Errorf("empty %s", key)
	}
	return s, nil
}

// requireString is stringField for a value that is only checked, never
// used: a non-empty raw string cannot decode to "" (every escape stands for
// at least one character), so nothing is decoded or allocated.
func requireString(key string, raw []byte) error {
	if len(raw) > 0 && raw[0] == '"' && len(raw) > 2 {
		return nil
	}
	_, err := stringField(key, raw)
	return err
}

// hourAndDate formats t as "2006-01-02T15" and "2006-01-02". time.Format
// interprets its layout on every call: ~3.5 µs each in a WASM guest, more
// than parsing the whole event.
func hourAndDate(t time.Time) (hour, date string) {
	y, m, d := t.Date()
	h := t.Hour()
	if y < 0 || y > 9999 {
		return t.Format("2006-01-02T15"), t.Format("2006-01-02")
	}
	b := [13]byte{
		byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-',
		byte('0' + d/10), byte('0' + d%10), 'T',
		byte('0' + h/10), byte('0' + h%10),
	}
	hour = string(b[:])
	return hour, hour[:10]
}

// lower is strings.ToLower with a fast path for ASCII, which User-Agent
// headers are: strings.ToLower writes byte by byte through a Builder, ~8 µs
// per agent in a WASM guest.
func lower(s string) string {
	b := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return strings.ToLower(s) // "\u212a" (Kelvin) lowers to "k"
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
}

// deviceClass classifies a User-Agent header as desktop, mobile, tablet or
// bot. Crawlers are checked first because many of them (Googlebot for
// smartphones) also claim to be a phone; tablets before phones because iPad
// and Android tablet agents contain "Mobile" or "Android" too.
func deviceClass(userAgent string) string {
	ua := lower(userAgent)
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
