package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/sdk/jsonobj"
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
// not know, so producers can add fields without redeploying it; an event
// that already has one of the added fields gets the new value instead, as
// it would with a decoded map.
//
// It reads and edits the event with sdk/jsonobj instead of decoding it into
// a map with encoding/json, which cost ~29% of the pipeline's CPU natively
// and far more in a WASM guest: jsonobj validates the record and finds the
// four fields enrich reads; nested values are skipped, never decoded.
func appendEnriched(dst, data []byte) ([]byte, error) {
	o, err := jsonobj.Parse(data)
	if err != nil {
		return nil, err
	}
	// One pass finds the four fields enrich reads and any it will replace;
	// the last of duplicate keys wins, as encoding/json decides.
	var raw [len(lookedUp)][]byte
	o.Lookup(lookedUp[:], raw[:])
	eventID, eventType, timestamp, userAgent := raw[0], raw[1], raw[2], raw[3]
	replacing := raw[4] != nil || raw[5] != nil || raw[6] != nil
	// event_id and event_type are only checked, never used: no decoding.
	if !jsonobj.IsNonEmptyString(eventID) {
		_, err := requiredString("event_id", eventID)
		return nil, err
	}
	if !jsonobj.IsNonEmptyString(eventType) {
		_, err := requiredString("event_type", eventType)
		return nil, err
	}
	ts, err := requiredString("timestamp", timestamp)
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, fmt.Errorf("timestamp %q is not RFC 3339", ts)
	}
	// A missing or non-string user agent is not fatal: such a click still
	// counts, it just cannot be classified beyond "desktop".
	ua, _ := jsonobj.String(userAgent)
	hour, date := hourAndDate(t.UTC())
	added := [...]jsonobj.Field{
		{Key: "device_class", Value: deviceClass(ua)},
		{Key: "event_hour", Value: hour},
		{Key: "event_date", Value: date},
	}
	if replacing { // rare: an event enriched before
		return o.AppendSet(dst, added[:]...), nil
	}
	return o.AppendNew(dst, added[:]...), nil
}

// lookedUp are the fields enrich reads, then those it adds.
var lookedUp = [...]string{"event_id", "event_type", "timestamp", "user_agent", "device_class", "event_hour", "event_date"}

// requiredString returns the non-empty string value raw of field key; null,
// like a missing field, is reported.
func requiredString(key string, raw []byte) (string, error) {
	if raw == nil {
		return "", fmt.Errorf("missing %s", key)
	}
	s, err := jsonobj.String(raw)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s is not a string: %s", key, raw)
	case s == "":
		return "", fmt.Errorf("empty %s", key)
	}
	return s, nil
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

// deviceClass classifies a User-Agent header as desktop, mobile, tablet or
// bot. Crawlers are checked first because many of them (Googlebot for
// smartphones) also claim to be a phone; tablets before phones because iPad
// and Android tablet agents contain "Mobile" or "Android" too.
func deviceClass(userAgent string) string {
	var buf [256]byte
	ua := lower(buf[:0], userAgent)
	switch {
	case len(ua) == 0:
		return desktop
	case containsAny(ua, botMarkers):
		return bot
	case containsAny(ua, tabletMarkers),
		bytes.Contains(ua, android) && !bytes.Contains(ua, mobileWord):
		// Android phones say "Mobile"; Android tablets do not.
		return tablet
	case containsAny(ua, mobileMarkers):
		return mobile
	default:
		return desktop
	}
}

// The markers deviceClass looks for, in lower case.
var (
	botMarkers = markers("bot", "crawler", "spider", "slurp", "facebookexternalhit", "headlesschrome",
		"curl/", "wget/", "python-requests", "go-http-client")
	tabletMarkers = markers("ipad", "tablet", "kindle", "silk/", "playbook")
	mobileMarkers = markers("mobile", "iphone", "ipod", "android", "windows phone", "blackberry", "opera mini")
	android       = []byte("android")
	mobileWord    = []byte("mobile")
)

func markers(words ...string) [][]byte {
	out := make([][]byte, len(words))
	for i, w := range words {
		out[i] = []byte(w)
	}
	return out
}

// lower appends s in lower case to buf. strings.ToLower allocates and
// writes byte by byte through a Builder, ~8 µs per agent in a WASM guest;
// User-Agent headers are ASCII, so lowering them into the caller's stack
// buffer costs nothing. Anything else takes strings.ToLower.
func lower(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return append(buf[:0], strings.ToLower(s)...) // "\u212a" (Kelvin) lowers to "k"
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

func containsAny(s []byte, subs [][]byte) bool {
	for _, sub := range subs {
		if bytes.Contains(s, sub) {
			return true
		}
	}
	return false
}
