package firehose

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/handover"
)

// discardDest counts bytes and throws objects away, so the benchmark
// measures the delivery stream, not a file system.
type discardDest struct{}

func (discardDest) Put(_ context.Context, _, _ string, body io.Reader, _ ObjectMeta) error {
	_, err := io.Copy(io.Discard, body)
	return err
}

// BenchmarkAcceptFlush measures Accept (JQ partitioning, WAL append and
// fsync per batch of 500) plus delivery of JSON+GZIP objects (size flushes
// and the final Close); one op is one record.
func BenchmarkAcceptFlush(b *testing.B) {
	for _, tc := range []struct{ parts, callers int }{{1, 1}, {10, 1}, {10, 8}} {
		parts := tc.parts
		b.Run(fmt.Sprintf("partitions=%d/callers=%d", parts, tc.callers), func(b *testing.B) {
			clk := newClock()
			d := openTest(b, dpConfig(), b.TempDir(), discardDest{}, clk)
			const batchSize = 500
			recs := make([]handover.Record, batchSize)
			var size int64
			for i := range recs {
				data := fmt.Sprintf(`{"event_type":"type-%d","page":"/products/%d","user":"u-%06d","ts":%d}`, i%parts, i, i*7, 1535365800+i)
				recs[i] = handover.Record{Data: []byte(data), ArrivalTime: clk.Now().Add(time.Duration(i) * time.Millisecond)}
				size += int64(len(data))
			}
			b.SetBytes(size / batchSize)
			b.ResetTimer()
			// Concurrent callers (one per source, as shards are) share
			// fsyncs through the log's group commit.
			var wg sync.WaitGroup
			for c := range tc.callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := c * batchSize; i < b.N; i += batchSize * tc.callers {
						if err := d.Accept(context.Background(), handover.Batch{Source: handover.Source{ID: fmt.Sprint(c), Checkpoint: fmt.Sprint(i)}, Records: recs}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := d.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}
