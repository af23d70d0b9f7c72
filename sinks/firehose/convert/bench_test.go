package convert

import (
	"fmt"
	"io"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-dev/sluice/sinks/firehose/internal/fastparse"
)

var benchColumns = []Column{{"event_type", "string"}, {"page", "string"}, {"user", "string"}, {"ts", "bigint"}, {"dur", "double"}}

// benchRecords are the records of the delivery stream's pipeline
// benchmark (sinks/firehose), as bytes.
func benchRecords(parts, n int) ([][]byte, int64) {
	recs := make([][]byte, n)
	var size int64
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"event_type":"type-%d","page":"/products/%d","user":"u-%06d","ts":%d,"dur":%d.5}`, i%parts, i, i*7, 1535365800+i, i%100)
		size += int64(len(recs[i]))
	}
	return recs, size
}

// BenchmarkParquetWriterRows measures decoded rows into the Parquet writer
// (SNAPPY, row groups as the delivery stream cuts them): the goal is over
// 1 M rows/s.
func BenchmarkParquetWriterRows(b *testing.B) {
	cv, err := Compile(Config{Columns: benchColumns})
	if err != nil {
		b.Fatal(err)
	}
	recs, _ := benchRecords(10, 1024)
	rows := make([]parquet.Row, len(recs))
	for i, r := range recs {
		if rows[i], err = cv.Row(nil, r); err != nil {
			b.Fatal(err)
		}
	}
	pw := cv.NewWriter(io.Discard).pw
	b.ResetTimer()
	for i := 0; i < b.N; i += 256 {
		k := i % 1024
		end := min(k+256, 1024, k+b.N-i)
		if _, err := pw.WriteRows(rows[k:end]); err != nil {
			b.Fatal(err)
		}
		if i%65536 == 0 && i > 0 {
			pw.Flush()
		}
	}
	if err := pw.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkConvertRow measures JSON → row (OpenX rules), the decode half
// of the conversion: "direct" as a flush runs it (a warm fastjson parser
// and scratch), "encoding-json" the reference path it replaced.
func BenchmarkConvertRow(b *testing.B) {
	cv, err := Compile(Config{Columns: benchColumns})
	if err != nil {
		b.Fatal(err)
	}
	recs, size := benchRecords(10, 1024)
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(size / 1024)
		p := fastparse.Pool.Get()
		defer fastparse.Pool.Put(p)
		var sc Scratch
		var row parquet.Row
		for i := 0; b.Loop(); i++ {
			data := recs[i%1024]
			sc.slab = sc.slab[:0]
			if row, err = cv.rowParsed(row, fastparse.Record(p, data), data, &sc); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(size / 1024)
		var row parquet.Row
		for i := 0; b.Loop(); i++ {
			if row, err = cv.rowJSON(row, recs[i%1024]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
