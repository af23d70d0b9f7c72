package firehose

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/sinks/firehose/deaggregate/kpltest"
)

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
		rec(string(kpltest.Record(`{"event_type":"a","n":1}{"event_type":"b","n":2}`, `{"event_type":"a","n":3}`)), clk.Now()),
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
