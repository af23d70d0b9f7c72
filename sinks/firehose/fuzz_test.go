package firehose

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzParsePrefix: parsing never panics, and a parsed prefix renders
// without panicking; partition values never add a path segment.
func FuzzParsePrefix(f *testing.F) {
	if fh, err := os.Open("testdata/prefixes.golden"); err == nil {
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
				src, _, _ := strings.Cut(l, "\t")
				f.Add(src, "v")
			}
		}
		fh.Close()
	}
	f.Add("!{partitionKeyFromQuery:k}", "../..")
	f.Add("!{timestamp:''''}", "/")
	f.Fuzz(func(t *testing.T, src, value string) {
		p, err := ParsePrefix(src)
		if err != nil {
			return
		}
		in := goldenInput
		in.Query = map[string]string{}
		for _, k := range p.keys(segQueryKey) {
			in.Query[k] = value
		}
		in.Lambda = map[string]string{}
		for _, k := range p.keys(segLambdaKey) {
			in.Lambda[k] = value
		}
		p.withDefaultTime().renderUnchecked(in)
		if e := escapeValue(value); strings.ContainsAny(e, "/\\\x00\n") || e == ".." || e == "." {
			t.Fatalf("escapeValue(%q) = %q can leave its segment", value, e)
		}
	})
}

// FuzzPartitionKeys runs the MetadataExtraction queries of the golden file
// on arbitrary records: extraction either yields every wanted key or a
// record error, never a panic.
func FuzzPartitionKeys(f *testing.F) {
	queries := []string{"{event_type:.event_type}", "{customer_id:.customer_id,device:.type.device}", "{n:.n,b:.b}",
		`{year:.ts|strftime("%Y")}`, ".event_type", "{k:.a[0].b}", "{k:(.x|tostring)}"}
	wants := [][]string{{"event_type"}, {"customer_id", "device"}, {"n", "b"}, {"year"}, {"event_type"}, {"k"}, {"k"}}
	for _, s := range []string{`{"event_type":"click"}`, `{"a":[{"b":1}]}`, `{"ts":1e300}`, `[]`, `null`, `"x"`, `{"x":{"y":[1,2]}}`, `{`, ``} {
		for i := range queries {
			f.Add([]byte(s), uint8(i))
		}
	}
	for _, q := range queries {
		if _, err := compileQuery(q); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, qi uint8) {
		i := int(qi) % len(queries)
		c, _ := compileQuery(queries[i])
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		keys, rerr := extractKeys(ctx, c, data, wants[i])
		if rerr == nil && len(keys) != len(wants[i]) {
			t.Fatalf("got %v, want keys %v", keys, wants[i])
		}
		if rerr != nil && rerr.Type != ErrTypeMetadataExtraction {
			t.Fatalf("error type %q", rerr.Type)
		}
	})
}

// FuzzConvertRow feeds arbitrary records to the JSON → Parquet row
// conversion with both SerDes: it must return a row or an error, never
// panic, and a row must have one value per column.
func FuzzConvertRow(f *testing.F) {
	for _, s := range []string{`{"event_id":1,"page":"/a","ts":"2026-11-26T01:02:03Z","day":"2026-11-26"}`, `{"clicks":"12"}`,
		`{"ts":1764118923.5,"ok":"TRUE","extra":[1,{"a":null}]}`, `not json`, `{"a.b":1}{"c":2}`, `{"duration":1e400}`, `null`} {
		f.Add([]byte(s))
	}
	openx, err := compileConversion(Conversion{Columns: clickTable(), ConvertDotsInJSONKeysToUnderscores: true})
	if err != nil {
		f.Fatal(err)
	}
	hive, err := compileConversion(Conversion{Columns: clickTable(), Deserializer: SerDeHive, TimestampFormats: []string{"millis"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cv := range []*converter{openx, hive} {
			row, err := cv.row(nil, data)
			if err == nil && len(row) != len(clickTable()) {
				t.Fatalf("row has %d values for %d columns", len(row), len(clickTable()))
			}
		}
	})
}
