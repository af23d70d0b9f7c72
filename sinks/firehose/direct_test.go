package firehose

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/sinks/firehose/internal/fastparse"
)

// The direct paths (fastjson, no reflection) must answer exactly as the
// references they replace: gojq on an encoding/json decode for partition
// keys, rowJSON for Parquet rows. These tests and fuzz targets compare
// the two on the same input.

var directQueries = []struct {
	q     string
	want  []string
	plain bool // compiled to direct paths
}{
	{"{event_type:.event_type}", []string{"event_type"}, true},
	{"{event_type: .event_type, hour: .x.y}", []string{"event_type", "hour"}, true},
	{`{"k": ."a b".c}`, []string{"k"}, true},
	{"{n:.n,b:.b}", []string{"n", "b"}, true},
	{"{event_type}", []string{"event_type"}, true},
	{"{k:.a.b.c, other:.o}", []string{"k"}, true},
	{"{k:.k}", []string{"k", "missing"}, true},
	{"{k:.k, k:.j}", []string{"k"}, false},
	{"{k:.k?}", []string{"k"}, false},
	{"{k:.a[0]}", []string{"k"}, false},
	{"{k:(.k|tostring)}", []string{"k"}, false},
	{`{k:.["k"]}`, []string{"k"}, false},
	{`{k: "lit"}`, []string{"k"}, false},
	{"{(.n): .k}", []string{"k"}, false},
	{".event_type", []string{"event_type"}, false},
	{`{year:.ts|strftime("%Y")}`, []string{"year"}, false},
}

// directRecords are tricky inputs for both direct paths.
var directRecords = []string{
	`{"event_type":"click","x":{"y":"10"},"n":1.5,"b":true}`,
	`{"event_type":"a","event_type":"b"}`,
	`{"event_type":null}`, `{"event_type":{"o":1}}`, `{"event_type":[1]}`, `{}`,
	`{"event_type":1.0}`, `{"event_type":-0}`, `{"event_type":1e21}`, `{"event_type":1e-7}`, `{"event_type":0.000001}`,
	`{"event_type":123456789012345678901234567890}`, `{"event_type":9007199254740993}`, `{"event_type":1E+2}`,
	`{"event_type":"x","big":1e400}`, `{"event_type":"x","big":[-1e999]}`, `{"event_type":1e-400}`,
	`{"event_type":"\u00e9\n\"\\\/"}`, `{"event_type":"\ud83d\ude00"}`, `{"event_type":"\ud800"}`, "{\"event_type\":\"\xff\"}",
	`{"event_type":"a\u0000b"}`, `{"event_type":"<&>"}`,
	`{"x":"s"}`, `{"x":null}`, `{"x":{"y":null}}`, `{"x":{"y":1,"y":2}}`, `{"x":[{"y":1}]}`, `{"x":true}`,
	`{"a b":{"c":"v"}}`, `{"a":{"b":{"c":"deep"}},"o":{"p":1}}`, `{"a":{"b":5},"o":2}`,
	`{"k":"v","j":"w"}`, `{"k":false}`,
	`[1,2]`, `"str"`, `null`, `1`, `true`, ``, `   `, `{`, `{"a":1}{"b":2}`, `{"a":01}`, `{"a":NaN}`, `{"a":Infinity}`,
	"{\"a\":\"tab\there\"}", `{"a":1.}`, `{"a":.5}`, `{"a":+1}`, `{"a":"\x"}`, ` {"event_type":"ws"} `,
	"\t{\"event_type\":\"ws\"}\n",
}

func TestPlainPaths(t *testing.T) {
	for _, tc := range directQueries {
		q, err := compileQuery(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if got := q.fast != nil; got != tc.plain {
			t.Errorf("%s: plain %v, want %v", tc.q, got, tc.plain)
		}
	}
}

// keysBothWays returns the keys or error from the direct path (through
// extractKeys) and from the gojq reference, each rendered as text.
func keysBothWays(t testing.TB, q *keyQuery, data []byte, want []string) (direct, ref string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	render := func(k map[string]string, e *recordError) string {
		if e != nil {
			return "error: " + e.Type + ": " + e.Code + ": " + e.Message
		}
		return fmt.Sprint(k)
	}
	return render(extractKeys(ctx, q, data, want)), render(extractKeysJQ(ctx, q.code, data, want))
}

func TestKeysDirectMatchesJQ(t *testing.T) {
	for _, tc := range directQueries {
		q, err := compileQuery(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range directRecords {
			direct, ref := keysBothWays(t, q, []byte(rec), tc.want)
			if direct != ref {
				t.Errorf("query %s on %q\ndirect: %s\n gojq: %s", tc.q, rec, direct, ref)
			}
		}
	}
}

// TestKeysDirectAnswers checks that the direct path answers the common
// records itself instead of always deferring to gojq.
func TestKeysDirectAnswers(t *testing.T) {
	for _, tc := range []struct {
		q, rec string
		want   []string
		keys   map[string]string
	}{
		{"{event_type:.event_type}", `{"event_type":"click","page":"/"}`, []string{"event_type"}, map[string]string{"event_type": "click"}},
		{"{a:.x.y, b:.b}", `{"x":{"y":1.0},"b":false,"b":true}`, []string{"a", "b"}, map[string]string{"a": "1", "b": "true"}},
		{"{n:.n}", `{"n":123456789012345678901234567890}`, []string{"n"}, map[string]string{"n": "1.2345678901234568e+29"}},
		{"{n:.n}", `{"n":0.0000001}`, []string{"n"}, map[string]string{"n": "1e-7"}},
		{"{s:.s}", `{"s":"caf\u00e9 \"q\""}`, []string{"s"}, map[string]string{"s": `café "q"`}},
	} {
		q, err := compileQuery(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		p := fastparse.Pool.Get()
		v := fastparse.Record(p, []byte(tc.rec))
		if v == nil {
			t.Fatalf("%s: fastparse.Record refused it", tc.rec)
		}
		keys, ok := q.direct(v, tc.want)
		fastparse.Pool.Put(p)
		if !ok || !maps.Equal(keys, tc.keys) {
			t.Errorf("%s on %s: direct = %v, %v; want %v", tc.q, tc.rec, keys, ok, tc.keys)
		}
	}
}

// FuzzKeysDirect: for any record, the direct path and gojq agree on the
// keys or on the error.
func FuzzKeysDirect(f *testing.F) {
	for _, rec := range directRecords {
		for i := range directQueries {
			f.Add([]byte(rec), uint8(i))
		}
	}
	qs := make([]*keyQuery, len(directQueries))
	for i, tc := range directQueries {
		q, err := compileQuery(tc.q)
		if err != nil {
			f.Fatal(err)
		}
		qs[i] = q
	}
	f.Fuzz(func(t *testing.T, data []byte, qi uint8) {
		i := int(qi) % len(qs)
		direct, ref := keysBothWays(t, qs[i], data, directQueries[i].want)
		if direct != ref {
			t.Fatalf("query %s on %q\ndirect: %s\n gojq: %s", directQueries[i].q, data, direct, ref)
		}
	})
}

// TestRouteCacheChecksEachSecond: records of one partition key whose
// evaluated prefix fits at one arrival time and not at another (a month
// name makes it longer) must each get their own verdict, in one batch.
func TestRouteCacheChecksEachSecond(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	cfg := dpConfig()
	cfg.Prefix = "p/!{partitionKeyFromQuery:event_type}/!{timestamp:MMMM}/"
	d := openTest(t, cfg, t.TempDir(), m, clk)
	// "p/" + key + "/" + month + "/" + default-less: 512 fits "May" but
	// not "September".
	key := strings.Repeat("k", 512-len("p//May/"))
	may := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	sep := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	data := fmt.Sprintf(`{"event_type":%q}`, key)
	mustAccept(t, d, batch("s", "1", rec(data, may), rec(data, sep), rec(data, may), rec(data, sep.Add(time.Second))))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range m.keys() {
		got = append(got, fmt.Sprintf("%s records=%d", k[:min(len(k), 40)], m.meta[k].Records))
	}
	want := []string{"lake/errors/prefixEvaluationFailed/2026/ records=2", "lake/p/" + key[:33] + " records=2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
