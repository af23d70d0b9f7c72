package firehose

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-dev/sluice/handover"
)

// These benchmarks measure the delivery stream end to end (Accept with JQ
// partitioning and WAL fsyncs, flush, encoding, compression) into a
// discarding destination, for JSON+GZIP and Parquet+SNAPPY with 1, 10 and
// 500 active partitions. Each reports records/s, MB/s of input JSON and
// the peak Go heap seen while it ran (peak-heap-MiB, and per partition).
// The peer in the same run is BenchmarkPeerGzip: the same bytes through
// gzip alone, the floor any JSON+GZIP pipeline pays.

var benchColumns = []Column{{Name: "event_type", Type: "string"}, {Name: "page", Type: "string"}, {Name: "user", Type: "string"}, {Name: "ts", Type: "bigint"}, {Name: "dur", Type: "double"}}

func benchRecords(parts, n int, at time.Time) ([]handover.Record, int64) {
	recs := make([]handover.Record, n)
	var size int64
	for i := range recs {
		data := fmt.Sprintf(`{"event_type":"type-%d","page":"/products/%d","user":"u-%06d","ts":%d,"dur":%d.5}`, i%parts, i, i*7, 1535365800+i, i%100)
		recs[i] = handover.Record{Data: []byte(data), ArrivalTime: at}
		size += int64(len(data))
	}
	return recs, size
}

// heapPeak samples the live heap until stop is closed.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

func BenchmarkPipeline(b *testing.B) {
	for _, format := range []string{"json+gzip", "parquet+snappy"} {
		// parts 0 is one partition without dynamic partitioning: no JQ,
		// which shows what the query costs.
		for _, parts := range []int{0, 1, 10, 500} {
			name := fmt.Sprintf("%s/partitions=%d", format, parts)
			if parts == 0 {
				name = format + "/no-partitioning"
			}
			b.Run(name, func(b *testing.B) {
				clk := newClock()
				cfg := dpConfig()
				cfg.MaxActivePartitions = 500
				if parts == 0 {
					cfg = testConfig()
					cfg.BufferSize, cfg.AppendDelimiter, cfg.Compression = 64*MiB, true, CompressionGZIP
					parts = 1
				}
				if format == "parquet+snappy" {
					cfg.Compression = CompressionNone
					cfg.Conversion = &Conversion{Columns: benchColumns, Compression: "SNAPPY"}
				}
				d := openTest(b, cfg, b.TempDir(), discardDest{}, clk)
				const batchSize, callers = 500, 4
				recs, size := benchRecords(parts, batchSize, clk.Now())
				b.SetBytes(size / batchSize)
				runtime.GC()
				stop := make(chan struct{})
				peak := heapPeak(stop)
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for c := range callers {
					wg.Go(func() {
						for i := c * batchSize; i < b.N; i += batchSize * callers {
							if err := d.Accept(context.Background(), handover.Batch{Source: handover.Source{ID: fmt.Sprint(c), Checkpoint: fmt.Sprint(i)}, Records: recs}); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				if err := d.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
				el := time.Since(start)
				b.StopTimer()
				close(stop)
				p := float64(<-peak) / (1 << 20)
				n := ((b.N + batchSize - 1) / batchSize) * batchSize
				b.ReportMetric(float64(n)/el.Seconds(), "records/s")
				b.ReportMetric(p, "peak-heap-MiB")
				b.ReportMetric(p/float64(parts), "heap-MiB/partition")
			})
		}
	}
}

// BenchmarkPeerGzip is the reference for json+gzip: the same records,
// newline-delimited, through gzip only (records/s and MB/s).
func BenchmarkPeerGzip(b *testing.B) {
	recs, size := benchRecords(10, 500, time.Now())
	b.SetBytes(size / 500)
	zw := gzip.NewWriter(io.Discard)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		zw.Write(recs[i%500].Data)
		zw.Write(newline)
	}
	zw.Close()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPartitionKeys measures the MetadataExtractionQuery on one
// record: "direct" is the plain-path lookup, "gojq" the reference.
func BenchmarkPartitionKeys(b *testing.B) {
	q, err := compileQuery("{event_type:.event_type}")
	if err != nil {
		b.Fatal(err)
	}
	recs, size := benchRecords(10, 1024, time.Now())
	want := []string{"event_type"}
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(size / 1024)
		for i := 0; b.Loop(); i++ {
			if _, rerr := extractKeys(ctx, q, recs[i%1024].Data, want); rerr != nil {
				b.Fatal(rerr.Message)
			}
		}
	})
	b.Run("gojq", func(b *testing.B) {
		b.SetBytes(size / 1024)
		for i := 0; b.Loop(); i++ {
			if _, rerr := extractKeysJQ(ctx, q.code, recs[i%1024].Data, want); rerr != nil {
				b.Fatal(rerr.Message)
			}
		}
	})
}
