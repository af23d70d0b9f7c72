package firehose

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

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

func TestSplitKPL(t *testing.T) {
	agg := kplRecord(`{"n":1}`, `{"n":2}`, ``)
	badSum := bytes.Clone(agg)
	badSum[len(badSum)-1] ^= 1
	// A body whose checksum matches but whose protobuf does not decode.
	junk := append(append([]byte{}, kplMagic...), 0x1a, 0x7f)
	junkSum := md5.Sum(junk[4:])
	junk = append(junk, junkSum[:]...)
	for _, tc := range []struct {
		name string
		in   []byte
		want string // sub-records joined by |, or "whole"
	}{
		{"aggregated", agg, `{"n":1}|{"n":2}|`},
		{"one record", kplRecord("solo"), "solo"},
		{"plain json", []byte(`{"n":1}`), "whole"},
		{"magic only", kplMagic, "whole"},
		{"short body", append(bytes.Clone(kplMagic), make([]byte, 16)...), "whole"},
		{"bad md5", badSum, "whole"},
		{"undecodable", junk, "whole"},
		{"no records", kplRecord(), "whole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, ok := splitKPL(tc.in)
			got := "whole"
			if ok {
				var s []string
				for _, b := range sub {
					s = append(s, string(b))
				}
				got = strings.Join(s, "|")
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSplitSubRecords(t *testing.T) {
	many := strings.Repeat(`{"a":1}`, maxSubRecords+1)
	for _, tc := range []struct {
		name, typ, in string
		delim         string
		want          string // sub-records joined by |, or "whole"
	}{
		{"concatenated", SubRecordJSON, `{"a":1}{"a":2}`, "", `{"a":1}|{"a":2}`},
		{"newline delimited", SubRecordJSON, "{\"a\":1}\n{\"a\":2}\n", "", `{"a":1}|{"a":2}`},
		{"spaced", SubRecordJSON, " {\"a\":{\"b\":[1,{}]}} \r\n\t{}", "", `{"a":{"b":[1,{}]}}|{}`},
		{"braces in strings", SubRecordJSON, `{"s":"}{\"}"}{"t":"\\"}`, "", `{"s":"}{\"}"}|{"t":"\\"}`},
		{"one object", SubRecordJSON, `{"a":1}`, "", `{"a":1}`},
		{"array", SubRecordJSON, `[{"a":1},{"a":2}]`, "", "whole"},
		{"trailing garbage", SubRecordJSON, `{"a":1}x`, "", "whole"},
		{"unterminated", SubRecordJSON, `{"a":1}{"a":`, "", "whole"},
		{"mismatched", SubRecordJSON, `{"a":1]`, "", "whole"},
		{"empty", SubRecordJSON, ``, "", "whole"},
		{"too many", SubRecordJSON, many, "", "whole"},
		{"exactly the limit", SubRecordJSON, strings.Repeat(`{}`, maxSubRecords), "", strings.TrimSuffix(strings.Repeat(`{}|`, maxSubRecords), "|")},
		{"delimited", SubRecordDelimited, "a####b####c", "####", "a|b|c"},
		{"trailing delimiter", SubRecordDelimited, "a####b####", "####", "a|b"},
		{"no delimiter", SubRecordDelimited, "abc", "####", "abc"},
		{"only delimiters", SubRecordDelimited, "########", "####", "whole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, ok := splitSubRecords([]byte(tc.in), tc.typ, []byte(tc.delim))
			got := "whole"
			if ok {
				var s []string
				for _, b := range sub {
					s = append(s, string(b))
				}
				got = strings.Join(s, "|")
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
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

// FuzzDeaggregate: splitting never panics, sub-records are never empty,
// at most maxSubRecords come out, and JSON sub-records are pieces of the
// input in order (nothing invented, only whitespace between them lost).
func FuzzDeaggregate(f *testing.F) {
	for _, s := range []string{`{"a":1}{"a":2}`, "{\"a\":\"}\\\"\"}\n{}", `[1]`, `{`, `a####b`, ``} {
		f.Add([]byte(s), false)
	}
	f.Add(kplRecord(`{"a":1}`, `x`), true)
	f.Fuzz(func(t *testing.T, data []byte, kpl bool) {
		if kpl {
			if sub, ok := splitKPL(data); ok && len(sub) == 0 {
				t.Fatal("kpl split into nothing")
			}
			return
		}
		for _, typ := range []string{SubRecordJSON, SubRecordDelimited} {
			sub, ok := splitSubRecords(data, typ, []byte("##"))
			if !ok {
				continue
			}
			if len(sub) == 0 || len(sub) > maxSubRecords {
				t.Fatalf("%s: %d sub-records", typ, len(sub))
			}
			rest := data
			for _, s := range sub {
				if len(s) == 0 {
					t.Fatalf("%s: empty sub-record", typ)
				}
				i := bytes.Index(rest, s)
				if i < 0 {
					t.Fatalf("%s: sub-record %q is not in the input's remainder %q", typ, s, rest)
				}
				if typ == SubRecordJSON && len(bytes.Trim(rest[:i], " \t\r\n")) > 0 {
					t.Fatalf("json: %q skipped before %q", rest[:i], s)
				}
				rest = rest[i+len(s):]
			}
		}
	})
}
