package firehose

import (
	"reflect"
	"testing"
)

// The write-ahead log's entry codecs read back what they wrote. (The log's
// crash, torn-tail and fault tests are internal/seglog's; the stream's
// recovery semantics are crash_test.go's.)
func TestWALEntryCodecsRoundTrip(t *testing.T) {
	heads := []headRec{
		{Next: 0},
		{Next: 12345, Checkpoints: map[string]string{"shard-b": "49590338271490256608559692538361571095921575989136588898", "shard-a": ""}},
	}
	for _, h := range heads {
		got, err := decodeHead(encodeHead(h))
		if err != nil || !reflect.DeepEqual(got, h) {
			t.Errorf("head %+v read back as %+v, %v", h, got, err)
		}
	}
	intents := []intentRec{
		{Key: "p=1/clicks-1-2018", Part: `data:{"q":{"p":"1"}}`, Lo: 1, Hi: 10, N: 10, Bytes: 1 << 40, Reason: ReasonSize, At: 1535365800000},
		{Key: "errors/x", Part: "error:delivery-failed", Lo: 3, Hi: 3, N: 1, Bytes: 7, Reason: ReasonInterval, At: -1,
			Replaces: "p=2/y", Fail: &failRec{Code: "S3.AccessDenied", Msg: "denied", At: 1535365800001}},
	}
	for _, in := range intents {
		got, err := decodeIntent(encodeIntent(in))
		if err != nil || !reflect.DeepEqual(got, in) {
			t.Errorf("intent %+v read back as %+v, %v", in, got, err)
		}
	}
	if got, err := decodeDone(encodeDone(doneRec{Key: "k/ü"})); err != nil || got.Key != "k/ü" {
		t.Errorf("done read back as %+v, %v", got, err)
	}
	routes := []*route{
		{QueryKeys: map[string]string{"p": "1", "a": "2"}, LambdaKeys: map[string]string{"l": ""}},
		{ErrType: ErrTypeMetadataExtraction, ErrCode: "Code", ErrMsg: "message"},
		{},
	}
	for _, rt := range routes {
		e := enc{}
		encodeRoute(&e, rt)
		d := dec{b: e.b}
		got, err := decodeRoute(&d)
		if err != nil || d.off != len(e.b) || !reflect.DeepEqual(got, rt) {
			t.Errorf("route %+v read back as %+v, %v", rt, got, err)
		}
	}
	// Truncated entries are errors, not zero values.
	b := encodeIntent(intents[1])
	if _, err := decodeIntent(b[:len(b)-2]); err == nil {
		t.Error("a truncated intent decoded without error")
	}
}
