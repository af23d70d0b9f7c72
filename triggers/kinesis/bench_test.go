package kinesis_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/streams"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// Benchmarks (make bench, or tools/esm.mk's esm-bench):
//
//   - BenchmarkMappingThroughput: records/s through a mapping with a no-op
//     function, in-process and over HTTP (and in-process with
//     ParallelizationFactor 10 and BatchSize 1,000, so one read is still
//     10,000 records, and with ReportBatchItemFailures), reported with the ratio to a bare
//     GetRecords loop over the same stream in the same run (the read
//     ceiling the mapping cannot beat), and the CPU each spends per record
//     (steadier than records/s when the machine is shared).
//   - BenchmarkPutToInvokeLatency: p50/p99 from PutRecords being called to
//     the function seeing the record, at a steady 5,000 records/s with
//     batching window 0; delivery_p50/p99 the same from PutRecords
//     returning, which leaves out the stream's write and fsync (the
//     mapping's own share).

func benchStream(b *testing.B, shards int) (*streams.Engine, func(overHTTP bool) kt.Reader) {
	b.Helper()
	engine, err := streams.Open(b.TempDir(), streams.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { engine.Close() })
	if err := engine.CreateStream(context.Background(), "bench", shards); err != nil {
		b.Fatal(err)
	}
	return engine, func(overHTTP bool) kt.Reader {
		if !overHTTP {
			return engine.Client()
		}
		srv := httptest.NewServer(engine.Handler())
		b.Cleanup(srv.Close)
		b.Setenv("AWS_CA_BUNDLE", "")
		return kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")})
	}
}

func benchPut(b *testing.B, engine *streams.Engine, n int, data func(i int) []byte) map[string]string {
	b.Helper()
	last := map[string]string{}
	for start := 0; start < n; start += 500 {
		var entries []types.PutRecordsRequestEntry
		for i := start; i < min(start+500, n); i++ {
			entries = append(entries, types.PutRecordsRequestEntry{Data: data(i), PartitionKey: aws.String(fmt.Sprint("k", i%1000))})
		}
		out, err := engine.Client().PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("bench"), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			b.Fatalf("put: %v", err)
		}
		for _, r := range out.Records {
			last[aws.ToString(r.ShardId)] = aws.ToString(r.SequenceNumber)
		}
	}
	return last
}

func BenchmarkMappingThroughput(b *testing.B) {
	cases := []struct {
		name     string
		overHTTP bool
		factor   int  // ParallelizationFactor
		partial  bool // ReportBatchItemFailures
	}{
		{"inprocess", false, 1, false},
		{"http", true, 1, false},
		{"inprocess-lanes10", false, 10, false},
		{"inprocess-reportbatchitemfailures", false, 1, true},
	}
	for _, c := range cases {
		overHTTP := c.overHTTP
		b.Run(c.name, func(b *testing.B) {
			const shards = 4
			n := max(b.N, 20000)
			engine, reader := benchStream(b, shards)
			last := benchPut(b, engine, n, func(i int) []byte { return []byte(`{"page":"/x","n":1}`) })
			r := reader(overHTTP)

			// Peer: a bare GetRecords loop over every shard.
			b.ResetTimer()
			start, cpu := time.Now(), cpuTime()
			rawRead(b, r, shards)
			raw, rawCPU := time.Since(start), cpuTime()-cpu

			fs, _ := checkpoint.OpenFileStore(b.TempDir())
			store := &notifyStore{Store: fs, changed: make(chan struct{}, 1)}
			fn, _ := runtime.New(runtime.Config{Name: "Noop"}, func(context.Context, events.KinesisEvent) error { return nil })
			m, err := kt.New(kt.Config{ID: "bench", FunctionName: "Noop", StreamName: "bench", BatchSize: 10000 / c.factor, ParallelizationFactor: c.factor, StartingPosition: "TRIM_HORIZON", ReportBatchItemFailures: c.partial},
				r, fn, nil, store, kt.Options{PollInterval: 10 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			start, cpu = time.Now(), cpuTime()
			go func() { m.Run(ctx); close(done) }()
			for {
				all := true
				for shard, seq := range last {
					if p, _ := store.Get(context.Background(), "bench", shard); p.SequenceNumber != seq {
						all = false
					}
				}
				if all {
					break
				}
				<-store.changed
			}
			elapsed, mappingCPU := time.Since(start), cpuTime()-cpu
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(n)/raw.Seconds(), "raw_read_records/s")
			b.ReportMetric(raw.Seconds()/elapsed.Seconds(), "ratio_vs_raw_read")
			// CPU per record (the process's user+system time, GC included)
			// holds still on a shared, loaded machine where records/s
			// swings with what else runs.
			b.ReportMetric(float64(mappingCPU.Nanoseconds())/float64(n), "cpu_ns/record")
			b.ReportMetric(float64(rawCPU.Nanoseconds())/float64(n), "raw_read_cpu_ns/record")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rawRead(b *testing.B, r kt.Reader, shards int) {
	ctx := context.Background()
	for s := range shards {
		it, err := r.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("bench"),
			ShardId: aws.String(fmt.Sprintf("shardId-%012d", s)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			b.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := r.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				b.Fatal(err)
			}
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
}

func BenchmarkPutToInvokeLatency(b *testing.B) {
	for _, overHTTP := range []bool{false, true} {
		name := map[bool]string{false: "inprocess", true: "http"}[overHTTP]
		b.Run(name, func(b *testing.B) {
			const rate, seconds, shards = 5000, 2, 4
			engine, reader := benchStream(b, shards)
			var mu sync.Mutex
			type seen struct {
				stamp int64 // when the record's PutRecords was called
				at    time.Time
			}
			var invoked []seen
			// putDone maps a tick's stamp to when its PutRecords returned:
			// delivery (put returned → invoke, 0 if the function saw the
			// record first) is the mapping's part of the latency, without
			// the stream's write and fsync.
			putDone := map[int64]time.Time{}
			got := make(chan struct{}, 1)
			fn, _ := runtime.New(runtime.Config{Name: "Probe"}, func(_ context.Context, e events.KinesisEvent) error {
				now := time.Now()
				mu.Lock()
				for _, r := range e.Records {
					invoked = append(invoked, seen{stamp: int64(binary.BigEndian.Uint64(r.Kinesis.Data)), at: now})
				}
				mu.Unlock()
				select {
				case got <- struct{}{}:
				default:
				}
				return nil
			})
			var fs checkpoint.Store
			fs, _ = checkpoint.OpenFileStore(b.TempDir())
			if os.Getenv("ESM_BENCH_MEMSTORE") != "" {
				fs = memStore{}
			}
			m, err := kt.New(kt.Config{ID: "lat", FunctionName: "Probe", StreamName: "bench", BatchSize: 100, StartingPosition: "TRIM_HORIZON"},
				reader(overHTTP), fn, nil, fs, kt.Options{PollInterval: 10 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { m.Run(ctx); close(done) }()
			b.ResetTimer()
			// 50 records every 10 ms = 5,000 records/s; each carries the time
			// its PutRecords call returned... approximated by the time just
			// before the call (put latency included, as a producer sees it).
			tick := time.NewTicker(10 * time.Millisecond)
			total := 0
			for range rate * seconds / 50 {
				<-tick.C
				now := time.Now().UnixNano()
				benchPut(b, engine, 50, func(int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(now)) })
				done := time.Now()
				mu.Lock()
				putDone[now] = done
				mu.Unlock()
				total += 50
			}
			tick.Stop()
			for {
				mu.Lock()
				n := len(invoked)
				mu.Unlock()
				if n >= total {
					break
				}
				<-got
			}
			b.StopTimer()
			cancel()
			<-done
			var lat, delivery []time.Duration
			for _, s := range invoked {
				lat = append(lat, s.at.Sub(time.Unix(0, s.stamp)))
				delivery = append(delivery, max(s.at.Sub(putDone[s.stamp]), 0))
			}
			slices.Sort(lat)
			slices.Sort(delivery)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
			b.ReportMetric(float64(delivery[len(delivery)/2].Microseconds())/1000, "delivery_p50_ms")
			b.ReportMetric(float64(delivery[len(delivery)*99/100].Microseconds())/1000, "delivery_p99_ms")
		})
	}
}

type memStore struct{}

func (memStore) Get(context.Context, string, string) (checkpoint.Position, error) {
	return checkpoint.Position{}, nil
}
func (memStore) Claim(context.Context, string, string, string) (checkpoint.Position, error) {
	return checkpoint.Position{}, nil
}
func (memStore) Put(context.Context, string, string, checkpoint.Position) error { return nil }
func (memStore) Close() error                                                   { return nil }
