package firehose

import (
	"context"
	"crypto/md5"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// kplMagic starts a KPL aggregated record.
var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// kplRecord builds a KPL aggregated record (docs/semantics.md, "KPL
// aggregation") with protowire, an
// encoder independent of the sink's hand-written reader: partition key
// table, explicit hash key table, then one Record per datum with a tag.
func kplRecord(data ...string) []byte {
	var msg []byte
	msg = protowire.AppendTag(msg, 1, protowire.BytesType)
	msg = protowire.AppendString(msg, "pk-0")
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendString(msg, "123456")
	for _, d := range data {
		var rec []byte
		rec = protowire.AppendTag(rec, 1, protowire.VarintType)
		rec = protowire.AppendVarint(rec, 0)
		rec = protowire.AppendTag(rec, 2, protowire.VarintType)
		rec = protowire.AppendVarint(rec, 0)
		rec = protowire.AppendTag(rec, 3, protowire.BytesType)
		rec = protowire.AppendBytes(rec, []byte(d))
		var tag []byte
		tag = protowire.AppendTag(tag, 1, protowire.BytesType)
		tag = protowire.AppendString(tag, "k")
		rec = protowire.AppendTag(rec, 4, protowire.BytesType)
		rec = protowire.AppendBytes(rec, tag)
		msg = protowire.AppendTag(msg, 3, protowire.BytesType)
		msg = protowire.AppendBytes(msg, rec)
	}
	sum := md5.Sum(msg)
	return append(append(append([]byte{}, kplMagic...), msg...), sum[:]...)
}

// TestDeaggregationDelivers runs both stages through a delivery stream:
// a KPL record holding concatenated JSON, a DELIMITED-free plain record,
// and a record that does not split all end up as one line per object,
// partitioned by the query.
func TestDeaggregationDelivers(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	cfg := dpConfig()
	cfg.Compression = CompressionNone
	cfg.SubRecordType = SubRecordJSON
	cfg.DeaggregateKPL = true
	d := openTest(t, cfg, t.TempDir(), m, clk)
	mustAccept(t, d, batch("s", "1",
		rec(string(kplRecord(`{"event_type":"a","n":1}{"event_type":"b","n":2}`, `{"event_type":"a","n":3}`)), clk.Now()),
		rec("{\"event_type\":\"b\",\"n\":4}\n{\"event_type\":\"a\",\"n\":5}", clk.Now()),
		rec(`[{"event_type":"a","n":6}]`, clk.Now()),
	))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range m.keys() {
		fmt.Fprintf(&b, "== %s records=%d\n", k[:strings.LastIndex(k, "/")+1], m.meta[k].Records)
		if strings.Contains(k, "/errors/") {
			continue // envelopes hold timestamps; the count says enough
		}
		b.Write(m.objs[k])
	}
	want := "== lake/errors/metadataExtractionFailed/2018/08/27/ records=1\n" +
		"== lake/events/event_type=a/2018/08/27/10/ records=3\n" +
		"{\"event_type\":\"a\",\"n\":1}\n{\"event_type\":\"a\",\"n\":3}\n{\"event_type\":\"a\",\"n\":5}\n" +
		"== lake/events/event_type=b/2018/08/27/10/ records=2\n" +
		"{\"event_type\":\"b\",\"n\":2}\n{\"event_type\":\"b\",\"n\":4}\n"
	if b.String() != want {
		t.Fatalf("objects:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestDeaggregationValidation(t *testing.T) {
	for _, tc := range []struct {
		typ, delim, want string
	}{
		{SubRecordJSON, "", ""},
		{SubRecordDelimited, "IyMjIw==", ""},
		{SubRecordDelimited, "", `RecordDeAggregation Delimiter "" must be the base64 encoding of a non-empty delimiter`},
		{SubRecordDelimited, "not base64!", `RecordDeAggregation Delimiter "not base64!" must be the base64 encoding of a non-empty delimiter`},
		{"CSV", "", `RecordDeAggregation SubRecordType "CSV": want JSON or DELIMITED`},
	} {
		c := dpConfig()
		c.SubRecordType, c.Delimiter = tc.typ, tc.delim
		if err := c.Validate(); fmt.Sprint(err) != tc.want && !(tc.want == "" && err == nil) {
			t.Errorf("%s %q: got %v, want %s", tc.typ, tc.delim, err, tc.want)
		}
	}
}
