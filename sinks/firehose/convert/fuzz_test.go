package convert

import "testing"

// FuzzConvertRow feeds arbitrary records to the JSON → Parquet row
// conversion with both SerDes: it must return a row or an error, never
// panic, and a row must have one value per column.
func FuzzConvertRow(f *testing.F) {
	for _, s := range []string{`{"event_id":1,"page":"/a","ts":"2026-11-26T01:02:03Z","day":"2026-11-26"}`, `{"clicks":"12"}`,
		`{"ts":1764118923.5,"ok":"TRUE","extra":[1,{"a":null}]}`, `not json`, `{"a.b":1}{"c":2}`, `{"duration":1e400}`, `null`} {
		f.Add([]byte(s))
	}
	openx, err := Compile(Config{Columns: clickTable(), ConvertDotsInJSONKeysToUnderscores: true})
	if err != nil {
		f.Fatal(err)
	}
	hive, err := Compile(Config{Columns: clickTable(), Deserializer: SerDeHive, TimestampFormats: []string{"millis"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cv := range []*Converter{openx, hive} {
			row, err := cv.Row(nil, data)
			if err == nil && len(row) != len(clickTable()) {
				t.Fatalf("row has %d values for %d columns", len(row), len(clickTable()))
			}
		}
	})
}
