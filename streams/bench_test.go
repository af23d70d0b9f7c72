package streams

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// BenchmarkPutRecords measures durable PutRecords throughput (500 records
// per call, several concurrent producers sharing group commits, limits
// off) in process and over HTTP with the official SDK client.
func BenchmarkPutRecords(b *testing.B) {
	for _, transport := range []string{"inprocess", "http"} {
		for _, size := range []int{100, 1024} {
			b.Run(fmt.Sprintf("%s/%dB", transport, size), func(b *testing.B) {
				e := openTest(b, Options{})
				mustCreate(b, e, "bench", 4)
				var put func(context.Context, *kinesis.PutRecordsInput, ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
				if transport == "http" {
					put = sdkClient(b, e).PutRecords
				} else {
					put = e.Client().PutRecords
				}
				data := make([]byte, size)
				b.SetBytes(int64(500 * size))
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					recs := make([]types.PutRecordsRequestEntry, 500)
					for i := range recs {
						recs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(strconv.Itoa(i)), Data: data}
					}
					in := &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: recs}
					for pb.Next() {
						out, err := put(context.Background(), in)
						if err != nil {
							b.Error(err)
							return
						}
						if *out.FailedRecordCount != 0 {
							b.Errorf("%d records failed", *out.FailedRecordCount)
							return
						}
					}
				})
				b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}
