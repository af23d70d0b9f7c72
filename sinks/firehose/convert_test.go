package firehose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sluice-dev/sluice/handover"
)

// Parquet objects are read back with Apache Arrow's Go Parquet reader, an
// implementation independent of the parquet-go writer.

func clickTable() []Column {
	return []Column{
		{Name: "event_id", Type: "bigint"}, {Name: "page", Type: "string"}, {Name: "user_name", Type: "varchar(64)"}, {Name: "duration", Type: "double"},
		{Name: "clicks", Type: "int"}, {Name: "ok", Type: "boolean"}, {Name: "ts", Type: "timestamp"}, {Name: "day", Type: "date"}, {Name: "extra", Type: "string"},
	}
}

func convConfig(c Conversion) Config {
	return Config{Name: "conv", Bucket: "lake", Prefix: "parquet/", ErrorOutputPrefix: "errors/!{firehose:error-output-type}/",
		BufferSize: 64 * MiB, BufferInterval: 300 * time.Second, Conversion: &c}
}

// readParquet renders a Parquet file as its Arrow schema, row count, row
// groups, codec and one line per row.
func readParquet(t testing.TB, b []byte) (schema string, rows []string, rowGroups int, codec string) {
	t.Helper()
	pr, err := file.NewParquetReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("arrow cannot open the file: %v", err)
	}
	defer pr.Close()
	rowGroups = pr.NumRowGroups()
	if rowGroups > 0 {
		rg := pr.MetaData().RowGroup(0)
		cc, err := rg.ColumnChunk(0)
		if err != nil {
			t.Fatal(err)
		}
		codec = cc.Compression().String()
	}
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var fs []string
	for _, f := range tbl.Schema().Fields() {
		fs = append(fs, f.Name+":"+f.Type.String())
	}
	schema = strings.Join(fs, " ")
	rows = make([]string, tbl.NumRows())
	for c := 0; c < int(tbl.NumCols()); c++ {
		i := 0
		for _, ch := range tbl.Column(c).Data().Chunks() {
			for k := 0; k < ch.Len(); k++ {
				if c > 0 {
					rows[i] += " "
				}
				rows[i] += ch.ValueStr(k)
				i++
			}
		}
	}
	return schema, rows, rowGroups, codec
}

func TestParquetGoldenReadBackWithArrow(t *testing.T) {
	for _, tc := range []struct {
		name string
		conv Conversion
		in   []string
	}{
		{"openx", Conversion{Columns: clickTable(), ColumnToJSONKeyMappings: map[string]string{"ts": "timestamp"},
			ConvertDotsInJSONKeysToUnderscores: true, Table: CatalogTable{DatabaseName: "web", TableName: "clicks", Region: "us-east-1"}},
			[]string{
				`{"event_id":1,"PAGE":"/a","user.name":"Ann","duration":1.5,"clicks":"3","ok":true,"timestamp":"2026-11-26T01:02:03.250Z","day":"2026-11-26","extra":{"x":[1,2]}}`,
				`{"event_id":2,"page":"/b","duration":2,"clicks":4,"ok":"FALSE","timestamp":1764118923,"day":null}`,
				`{"event_id":3,"page":"/c","timestamp":1764118923500}`,
				`{"event_id":4,"page":"/d","timestamp":"2026-1-2 03:04:05.5","extra":12.50}`,
				`not json`,
				`{"event_id":"x"}`,
				`{"event_id":5,"clicks":3000000000}`,
				`[1,2]`,
			}},
		{"hive", Conversion{Deserializer: SerDeHive, Columns: clickTable(), TimestampFormats: []string{"millis"}, Compression: "GZIP"},
			[]string{
				`{"Event_Id":1,"page":"/a","ts":1764118923500,"ok":true}`,
				`{"event_id":2,"clicks":"3"}`,
				`{"event_id":3,"extra":{"nested":true}}`,
				`{"event_id":4,"ts":"2026-11-26 01:02:03"}`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			m := newMemDest()
			d := openTest(t, convConfig(tc.conv), t.TempDir(), m, clk)
			var recs []handover.Record
			for _, r := range tc.in {
				recs = append(recs, rec(r, clk.Now()))
			}
			mustAccept(t, d, batch("s", "1", recs...))
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, k := range m.keys() {
				fmt.Fprintf(&b, "== %s (records=%d encoding=%q)\n", k, m.meta[k].Records, m.meta[k].ContentEncoding)
				if strings.HasSuffix(k, ".parquet") {
					schema, rows, groups, codec := readParquet(t, m.objs[k])
					fmt.Fprintf(&b, "schema %s\nrow groups %d, codec %s\n%s\n", schema, groups, codec, strings.Join(rows, "\n"))
					continue
				}
				b.Write(m.objs[k])
			}
			checkGolden(t, "testdata/parquet_"+tc.name+".golden", b.String())
		})
	}
}

// TestParquetRowGroupsBoundMemory writes many records with a small row
// group budget: the file must hold several row groups (a flush holds one
// at a time) and every row, in order.
func TestParquetRowGroupsBoundMemory(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	conv := Conversion{Columns: []Column{{Name: "i", Type: "bigint"}, {Name: "s", Type: "string"}}, RowGroupBytes: 64 << 10, Compression: "UNCOMPRESSED"}
	d := openTest(t, convConfig(conv), t.TempDir(), m, clk)
	const n = 20000
	for b := 0; b < n; b += 1000 {
		var recs []handover.Record
		for i := b; i < b+1000; i++ {
			recs = append(recs, rec(fmt.Sprintf(`{"i":%d,"s":"row-%d"}`, i, i), clk.Now()))
		}
		mustAccept(t, d, batch("s", fmt.Sprint(b), recs...))
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := m.keys()
	if len(keys) != 1 || !strings.HasSuffix(keys[0], ".parquet") {
		t.Fatalf("objects: %v", keys)
	}
	_, rows, groups, codec := readParquet(t, m.objs[keys[0]])
	if len(rows) != n || groups < 5 || codec != "UNCOMPRESSED" {
		t.Fatalf("%d rows in %d row groups (%s); want %d rows in several uncompressed groups", len(rows), groups, codec, n)
	}
	for i, r := range rows {
		if r != fmt.Sprintf("%d row-%d", i, i) {
			t.Fatalf("row %d = %q", i, r)
		}
	}
}

func TestConversionValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"gzip with conversion", func(c *Config) { c.Compression = CompressionGZIP },
			"CompressionFormat must be UNCOMPRESSED when DataFormatConversion is enabled"},
		{"small buffer", func(c *Config) { c.BufferSize = 5 * MiB },
			"BufferingHints.SizeInMBs must be at least 64 when DataFormatConversion is enabled"},
		{"unsupported type", func(c *Config) { c.Conversion.Columns = []Column{{Name: "a", Type: "array<string>"}} },
			`column "a": type "array<string>" is not supported by Sluice's Parquet conversion (string, varchar, char, tinyint, smallint, int, bigint, float, double, boolean, timestamp, date are)`},
		{"hive dots", func(c *Config) {
			c.Conversion.Deserializer = SerDeHive
			c.Conversion.Columns = []Column{{Name: "a.b", Type: "string"}}
		}, `column "a.b": HiveJsonSerDe does not allow dots in column names`},
		{"bad codec", func(c *Config) { c.Conversion.Compression = "LZO" }, `ParquetSerDe Compression "LZO": want SNAPPY, GZIP or UNCOMPRESSED`},
		{"default buffer", func(c *Config) { c.BufferSize = 0 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := convConfig(Conversion{Columns: clickTable()})
			tc.mod(&c)
			err := c.Validate()
			if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestConversionEnvelopeShape(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	d := openTest(t, convConfig(Conversion{Columns: clickTable(), Table: CatalogTable{DatabaseName: "web", TableName: "clicks"}}), t.TempDir(), m, clk)
	mustAccept(t, d, batch("s", "1", rec(`{"event_id":"nope"}`, clk.Now())))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := m.keys()
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "lake/errors/format-conversion-failed/conv-1-") {
		t.Fatalf("objects: %v", keys)
	}
	var env map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(m.objs[keys[0]]), &env); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"attemptsMade", "arrivalTimestamp", "lastErrorCode", "lastErrorMessage", "attemptEndingTimestamp", "rawData", "dataCatalogTable"} {
		if _, ok := env[f]; !ok {
			t.Errorf("envelope lacks %s: %v", f, env)
		}
	}
}
