package firehose

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzParsePrefix: parsing never panics, and a parsed prefix renders
// without panicking; measuring it gives rendering's verdict; partition
// values never add a path segment.
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
		if got, want := p.check(in, 80), checkByRendering(p, in, 80); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("check says %v, rendering %v", got, want)
		}
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
