package deaggregate

import (
	"bytes"
	"crypto/md5"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/sinks/firehose/deaggregate/kpltest"
)

func TestSplitKPL(t *testing.T) {
	agg := kpltest.Record(`{"n":1}`, `{"n":2}`, ``)
	badSum := bytes.Clone(agg)
	badSum[len(badSum)-1] ^= 1
	// A body whose checksum matches but whose protobuf does not decode.
	junk := append(append([]byte{}, kpltest.Magic...), 0x1a, 0x7f)
	junkSum := md5.Sum(junk[4:])
	junk = append(junk, junkSum[:]...)
	for _, tc := range []struct {
		name string
		in   []byte
		want string // sub-records joined by |, or "whole"
	}{
		{"aggregated", agg, `{"n":1}|{"n":2}|`},
		{"one record", kpltest.Record("solo"), "solo"},
		{"plain json", []byte(`{"n":1}`), "whole"},
		{"magic only", kpltest.Magic, "whole"},
		{"short body", append(bytes.Clone(kpltest.Magic), make([]byte, 16)...), "whole"},
		{"bad md5", badSum, "whole"},
		{"undecodable", junk, "whole"},
		{"no records", kpltest.Record(), "whole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, ok := KPL(tc.in)
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
	many := strings.Repeat(`{"a":1}`, MaxSubRecords+1)
	for _, tc := range []struct {
		name, typ, in string
		delim         string
		want          string // sub-records joined by |, or "whole"
	}{
		{"concatenated", JSON, `{"a":1}{"a":2}`, "", `{"a":1}|{"a":2}`},
		{"newline delimited", JSON, "{\"a\":1}\n{\"a\":2}\n", "", `{"a":1}|{"a":2}`},
		{"spaced", JSON, " {\"a\":{\"b\":[1,{}]}} \r\n\t{}", "", `{"a":{"b":[1,{}]}}|{}`},
		{"braces in strings", JSON, `{"s":"}{\"}"}{"t":"\\"}`, "", `{"s":"}{\"}"}|{"t":"\\"}`},
		{"one object", JSON, `{"a":1}`, "", `{"a":1}`},
		{"array", JSON, `[{"a":1},{"a":2}]`, "", "whole"},
		{"trailing garbage", JSON, `{"a":1}x`, "", "whole"},
		{"unterminated", JSON, `{"a":1}{"a":`, "", "whole"},
		{"mismatched", JSON, `{"a":1]`, "", "whole"},
		{"empty", JSON, ``, "", "whole"},
		{"too many", JSON, many, "", "whole"},
		{"exactly the limit", JSON, strings.Repeat(`{}`, MaxSubRecords), "", strings.TrimSuffix(strings.Repeat(`{}|`, MaxSubRecords), "|")},
		{"delimited", Delimited, "a####b####c", "####", "a|b|c"},
		{"trailing delimiter", Delimited, "a####b####", "####", "a|b"},
		{"no delimiter", Delimited, "abc", "####", "abc"},
		{"only delimiters", Delimited, "########", "####", "whole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, ok := SubRecords([]byte(tc.in), tc.typ, []byte(tc.delim))
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

// FuzzDeaggregate: splitting never panics, sub-records are never empty,
// at most MaxSubRecords come out, and JSON sub-records are pieces of the
// input in order (nothing invented, only whitespace between them lost).
func FuzzDeaggregate(f *testing.F) {
	for _, s := range []string{`{"a":1}{"a":2}`, "{\"a\":\"}\\\"\"}\n{}", `[1]`, `{`, `a####b`, ``} {
		f.Add([]byte(s), false)
	}
	f.Add(kpltest.Record(`{"a":1}`, `x`), true)
	f.Fuzz(func(t *testing.T, data []byte, kpl bool) {
		if kpl {
			if sub, ok := KPL(data); ok && len(sub) == 0 {
				t.Fatal("kpl split into nothing")
			}
			return
		}
		for _, typ := range []string{JSON, Delimited} {
			sub, ok := SubRecords(data, typ, []byte("##"))
			if !ok {
				continue
			}
			if len(sub) == 0 || len(sub) > MaxSubRecords {
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
				if typ == JSON && len(bytes.Trim(rest[:i], " \t\r\n")) > 0 {
					t.Fatalf("json: %q skipped before %q", rest[:i], s)
				}
				rest = rest[i+len(s):]
			}
		}
	})
}
