package streams

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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

// BenchmarkPutRecordsServer measures the server alone: JSON PutRecords
// bodies straight into the HTTP handler (decode, route, hash, group
// commit, answer), no client and no socket, so the figure does not move
// with the SDK's cost. cpu-ns/record is the process's CPU time (user and
// system, every goroutine) per record: what the server takes from a
// producer sharing its cores.
func BenchmarkPutRecordsServer(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			e := openTest(b, Options{})
			mustCreate(b, e, "bench", 4)
			h := e.Handler()
			data := base64.StdEncoding.EncodeToString(make([]byte, size))
			var body strings.Builder
			body.WriteString(`{"StreamName":"bench","Records":[`)
			for i := range 500 {
				if i > 0 {
					body.WriteByte(',')
				}
				fmt.Fprintf(&body, `{"Data":"%s","PartitionKey":"%d"}`, data, i)
			}
			body.WriteString(`]}`)
			payload := body.String()
			b.SetBytes(int64(500 * size))
			b.SetParallelism(4)
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(payload))
					req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
					req.Header.Set("Content-Type", "application/x-amz-json-1.1")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK || !strings.HasSuffix(w.Body.String(), `"FailedRecordCount":0}`) {
						b.Errorf("answer %d %.200s", w.Code, w.Body.String())
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(500*b.N), "cpu-ns/record")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
