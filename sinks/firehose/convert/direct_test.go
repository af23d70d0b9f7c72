package convert

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-dev/sluice/sinks/firehose/internal/fastparse"
)

// The direct path (fastjson, no reflection) must answer exactly as the
// reference it replaces, rowJSON. These tests and the fuzz target compare
// the two on the same input.

func clickTable() []Column {
	return []Column{
		{"event_id", "bigint"}, {"page", "string"}, {"user_name", "varchar(64)"}, {"duration", "double"},
		{"clicks", "int"}, {"ok", "boolean"}, {"ts", "timestamp"}, {"day", "date"}, {"extra", "string"},
	}
}

// directConversions cover the SerDe options rowDirect honours.
func directConversions(t testing.TB) []*Converter {
	var out []*Converter
	cols := append(clickTable(), Column{"tiny", "tinyint"}, Column{"small", "smallint"}, Column{"f", "float"}, Column{"alias", "string"})
	for _, c := range []Config{
		{Columns: cols},
		{Columns: cols, CaseSensitive: true},
		{Columns: cols, ConvertDotsInJSONKeysToUnderscores: true, ColumnToJSONKeyMappings: map[string]string{"ts": "Time.Stamp", "alias": "page"}},
		{Columns: cols, Deserializer: SerDeHive, TimestampFormats: []string{"millis"}},
		{Columns: cols, Deserializer: SerDeHive},
	} {
		cv, err := Compile(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cv)
	}
	return out
}

var directRows = []string{
	`{"event_id":1,"PAGE":"/a","user.name":"Ann","duration":1.5,"clicks":"3","ok":true,"timestamp":"2026-11-26T01:02:03.250Z","day":"2026-11-26","extra":{"x":[1,2],"b":"<&>","a":1.50}}`,
	`{"event_id":2,"page":"/b","duration":2,"clicks":4,"ok":"FALSE","ts":1764118923,"day":null}`,
	`{"event_id":3,"page":"/c","ts":1764118923500,"time.stamp":"2026-1-2 03:04:05.5"}`,
	`{"event_id":4,"ts":"2026-1-2 03:04:05.5","extra":12.50,"tiny":127,"small":-32768,"f":3.4e38}`,
	`{"event_id":5,"ts":1764118923.25,"extra":true,"ok":false,"tiny":128}`,
	`{"event_id":" 7 ","duration":" 2.5 ","ok":"True","f":"1e3","small":"40000"}`,
	`{"event_id":1e3}`, `{"event_id":1.0}`, `{"event_id":9223372036854775808}`, `{"clicks":3000000000}`,
	`{"duration":1e400}`, `{"duration":"NaN"}`, `{"duration":"inf"}`, `{"f":1e39}`,
	`{"ok":"tRuE"}`, `{"ok":"yes"}`, `{"ok":1}`, `{"ok":"\u017fomething"}`,
	`{"ts":"2026-02-30 00:00:00"}`, `{"ts":"2026-11-26T01:02:03Z"}`, `{"ts":true}`, `{"ts":-1.5}`, `{"ts":99999999999}`, `{"ts":1e20}`,
	`{"day":"2026-13-01"}`, `{"day":5}`, `{"day":"2026-02-28"}`,
	`{"page":{"b":2,"a":[null,"x\u2028"]}}`, `{"page":[1,"two",{"3":4}]}`, `{"page":"dup","page":"last"}`, `{"PAGE":"upper"}`,
	`{"extra":{"k":1,"k":2}}`, `{"extra":"\ud800"}`, "{\"extra\":\"\xff\"}", `{"extra":"\u00e9"}`,
	`{"K":"kelvin"}`, "{\"\u212a\":1}", `{"Event_Id":9}`,
	`not json`, `[1,2]`, `null`, `"x"`, `{}`, ``, `{"a":1}{"b":2}`, `{"event_id":01}`, `{"event_id":NaN}`, "{\"page\":\"a\tb\"}",
}

// rowsEqual compares rows value by value, levels and columns included
// (NaN equals NaN: both paths parse the same text).
func rowsEqual(a, b parquet.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Kind() != y.Kind() || x.IsNull() != y.IsNull() || x.Column() != y.Column() ||
			x.DefinitionLevel() != y.DefinitionLevel() || x.RepetitionLevel() != y.RepetitionLevel() {
			return false
		}
		if !parquet.Equal(x, y) && !(x.Kind() == parquet.Double && math.IsNaN(x.Double()) && math.IsNaN(y.Double())) &&
			!(x.Kind() == parquet.Float && math.IsNaN(float64(x.Float())) && math.IsNaN(float64(y.Float()))) {
			return false
		}
	}
	return true
}

// normalisedKeysCollide reports records whose top-level keys collide once
// normalised ("A" and "a" case-insensitively): rowJSON picks between them
// by Go map order, so it has no single answer to compare with.
func normalisedKeysCollide(cv *Converter, data []byte) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return false
	}
	seen := map[string]bool{}
	for k := range obj {
		n := cv.normKey(k)
		if seen[n] {
			return true
		}
		seen[n] = true
	}
	return false
}

func rowBothWays(t testing.TB, cv *Converter, data []byte) {
	t.Helper()
	if normalisedKeysCollide(cv, data) {
		return
	}
	got, gerr := cv.Row(nil, data)
	want, werr := cv.rowJSON(nil, data)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) || (werr == nil && !rowsEqual(got, want)) {
		t.Fatalf("%+v on %q\ndirect:   %v %v\nrowJSON: %v %v", cv.cfg, data, got, gerr, want, werr)
	}
}

func TestRowDirectMatchesJSON(t *testing.T) {
	for _, cv := range directConversions(t) {
		for _, rec := range directRows {
			rowBothWays(t, cv, []byte(rec))
		}
	}
}

// TestRowDirectAnswers checks that rowDirect converts ordinary records
// itself, for each SerDe.
func TestRowDirectAnswers(t *testing.T) {
	for i, cv := range directConversions(t) {
		rec := `{"event_id":1,"page":"/a","duration":1.5,"clicks":3,"ok":true,"ts":"2026-11-26 01:02:03","day":"2026-11-26","extra":"x"}`
		p := fastparse.Pool.Get()
		var sc Scratch
		_, ok := cv.rowDirect(nil, fastparse.Record(p, []byte(rec)), &sc)
		fastparse.Pool.Put(p)
		if !ok {
			t.Errorf("conversion %d: rowDirect deferred an ordinary record", i)
		}
	}
}

// FuzzRowDirect: for any record and each SerDe configuration, rowDirect
// (through row) and rowJSON produce the same row or the same error.
func FuzzRowDirect(f *testing.F) {
	for _, rec := range directRows {
		f.Add([]byte(rec))
	}
	cvs := directConversions(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cv := range cvs {
			rowBothWays(t, cv, data)
		}
	})
}
