package streams

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/testpeers"
)

// Benchmarks against the independent emulators, in one run, with the same
// aws-sdk-go-v2 client (testpeers.KinesisClient) for every server. They
// start node processes, so they run only when SLUICE_BENCH_PEERS is set
// (`make bench-streams` sets it and prints the table); the plain `go test
// -bench .` of `make bench` skips them.

func peersOnly(b *testing.B) {
	if os.Getenv("SLUICE_BENCH_PEERS") == "" {
		b.Skip("set SLUICE_BENCH_PEERS=1 (make bench-streams) to benchmark against kinesalite and kinesis-local")
	}
}

type peer struct {
	name     string
	endpoint string
}

// startPeers returns Sluice over HTTP (limits off, durable: every
// PutRecords is fsynced) and the two emulators.
func startPeers(b *testing.B) []peer {
	e := openTest(b, Options{})
	srv := httptest.NewServer(e.Handler())
	b.Cleanup(srv.Close)
	return []peer{
		{"sluice", srv.URL},
		{"kinesalite", testpeers.Kinesalite(b)},
		{"kinesis-local", testpeers.KinesisLocal(b)},
	}
}

var benchStreamSeq atomic.Int64

// freshStream creates a new stream and waits until it is ACTIVE: the
// emulators slow down as a stream fills, so every measurement starts empty.
func freshStream(b *testing.B, c *kinesis.Client, shards int32) string {
	b.Helper()
	name := "bench-" + strconv.FormatInt(benchStreamSeq.Add(1), 10)
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		b.Fatal(err)
	}
	w := kinesis.NewStreamExistsWaiter(c, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		b.Fatal(err)
	}
	// kinesalite allows 10 shards per account: give them back.
	b.Cleanup(func() {
		if _, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
			b.Logf("delete %s: %v", name, err)
			return
		}
		kinesis.NewStreamNotExistsWaiter(c, func(o *kinesis.StreamNotExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
		}).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second)
	})
	return name
}

func putBatch(name string, size, batch int, seed int) *kinesis.PutRecordsInput {
	data := make([]byte, size)
	recs := make([]types.PutRecordsRequestEntry, batch)
	for i := range recs {
		recs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(strconv.Itoa(seed*batch + i)), Data: data}
	}
	return &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: recs}
}

// BenchmarkPeersPutRecords: PutRecords throughput, 500 records per call
// from 4×GOMAXPROCS concurrent producers, 4 shards, limits off in Sluice
// (kinesis-local enforces its limits; throttled records are not counted).
func BenchmarkPeersPutRecords(b *testing.B) {
	peersOnly(b)
	for _, p := range append(startPeers(b), peer{"client-ceiling", putCeiling(b)}) {
		c := testpeers.KinesisClient(b, p.endpoint)
		for _, size := range []int{100, 1024} {
			b.Run(fmt.Sprintf("%s/%dB", p.name, size), func(b *testing.B) {
				name := freshStream(b, c, 4)
				var ok, failed atomic.Int64
				var seed atomic.Int64
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					in := putBatch(name, size, 500, int(seed.Add(1)))
					for pb.Next() {
						out, err := c.PutRecords(context.Background(), in)
						if err != nil {
							b.Error(err)
							return
						}
						f := int64(*out.FailedRecordCount)
						ok.Add(int64(len(in.Records)) - f)
						failed.Add(f)
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(ok.Load())/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(failed.Load()), "throttled")
			})
		}
	}
}

// putCeiling serves PutRecords with a canned all-succeeded answer without
// storing anything: the SDK client's own ceiling on this machine.
func putCeiling(b *testing.B) string {
	var sb strings.Builder
	sb.WriteString(`{"FailedRecordCount":0,"Records":[`)
	for i := range 500 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"SequenceNumber":"4963%040d","ShardId":"shardId-000000000000"}`, i)
	}
	sb.WriteString(`]}`)
	canned := []byte(sb.String())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutRecords") {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.Write(canned)
			return
		}
		// CreateStream, DescribeStream (ACTIVE), DeleteStream.
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, `{"StreamDescription":{"StreamStatus":"ACTIVE","StreamName":"x","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/x","Shards":[],"HasMoreShards":false,"RetentionPeriodHours":24,"StreamCreationTimestamp":1}}`)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkPeersGetRecords: GetRecords throughput reading a 1-shard stream
// holding 5,000 1 KiB records from TRIM_HORIZON to the tip, one reader.
// "client-ceiling" replays a canned 5,000-record GetRecords response from
// an httptest server: what the SDK client itself can parse, the bound on
// any server measured with it.
func BenchmarkPeersGetRecords(b *testing.B) {
	peersOnly(b)
	const total = 5000
	peers := startPeers(b)
	var canned []byte
	for _, p := range peers {
		c := testpeers.KinesisClient(b, p.endpoint)
		name := freshStream(b, c, 1)
		loadStream(b, c, name, total)
		if p.name == "sluice" {
			canned = cannedGetRecords(b, p.endpoint, name)
		}
		b.Run(p.name, func(b *testing.B) {
			var n, throttled int64
			b.ResetTimer()
			for b.Loop() {
				it, err := c.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{
					StreamName: aws.String(name), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
				if err != nil {
					b.Fatal(err)
				}
				iter := it.ShardIterator
				for got := 0; got < total && iter != nil; {
					out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
					if err != nil {
						if strings.Contains(err.Error(), "ProvisionedThroughputExceeded") {
							throttled++
							continue
						}
						b.Fatal(err)
					}
					got += len(out.Records)
					n += int64(len(out.Records))
					iter = out.NextShardIterator
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(throttled), "throttled")
		})
	}
	b.Run("client-ceiling", func(b *testing.B) {
		// The canned answer comes from memory, not a socket: over loopback
		// the SDK resets connections mid-body when a server answers 7 MB
		// instantly, which would measure that bug rather than the client.
		c := kinesis.New(testpeers.KinesisClient(b, "http://127.0.0.1:1").Options(), func(o *kinesis.Options) {
			o.HTTPClient = cannedHTTP(canned)
		})
		var n int64
		b.ResetTimer()
		for b.Loop() {
			out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String("canned"), Limit: aws.Int32(10000)})
			if err != nil {
				b.Fatal(err)
			}
			n += int64(len(out.Records))
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	})
}

// cannedHTTP is an SDK HTTP client answering every request with body.
type cannedHTTP []byte

func (c cannedHTTP) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode:    200,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amzn-Requestid": {"canned"}},
		Body:          io.NopCloser(bytes.NewReader(c)),
		ContentLength: int64(len(c)),
		Request:       r,
	}, nil
}

// loadStream writes n 1 KiB records, re-sending only what failed:
// kinesis-local throttles the shard at 1 MiB/s, so it waits a second
// between rounds there (a rate limit, not a synchronisation).
func loadStream(b *testing.B, c *kinesis.Client, name string, n int) {
	pending := make([]types.PutRecordsRequestEntry, 0, n)
	for i := range n / 500 {
		pending = append(pending, putBatch(name, 1024, 500, i).Records...)
	}
	for round := 0; len(pending) > 0; round++ {
		if round > 120 {
			b.Fatalf("loading %s: %d records still refused after %d rounds", name, len(pending), round)
		}
		batch := pending[:min(500, len(pending))]
		out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: batch})
		if err != nil {
			b.Logf("loading %s: %v", name, err)
			time.Sleep(time.Second)
			continue
		}
		var again []types.PutRecordsRequestEntry
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				again = append(again, batch[i])
			}
		}
		pending = append(again, pending[len(batch):]...)
		if len(again) > 0 {
			time.Sleep(time.Second)
		}
	}
}

// cannedGetRecords returns the raw JSON body of a GetRecords answer holding
// the whole stream.
func cannedGetRecords(b testing.TB, endpoint, name string) []byte {
	c := testpeers.KinesisClient(b, endpoint)
	it, err := c.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{
		StreamName: aws.String(name), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		b.Fatal(err)
	}
	body := `{"ShardIterator":"` + *it.ShardIterator + `","Limit":10000}`
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.GetRecords")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var buf strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	return []byte(buf.String())
}

// BenchmarkPeersMemoryGrowth writes 100,000 1 KiB records per iteration
// into one stream (in process, durable) and reports the Go heap and the
// process RSS after the first 100,000 and after all of them: records live
// on disk, so both should stay flat as the stream grows.
func BenchmarkPeersMemoryGrowth(b *testing.B) {
	peersOnly(b)
	e := openTest(b, Options{})
	mustCreate(b, e, "mem", 4)
	c := e.Client()
	var firstHeap, firstRSS float64
	written := 0
	i := 0
	for b.Loop() {
		for j := 0; j < 200; j++ {
			out, err := c.PutRecords(context.Background(), putBatch("mem", 1024, 500, i*200+j))
			if err != nil || *out.FailedRecordCount != 0 {
				b.Fatal(err)
			}
		}
		written += 100_000
		if i == 0 {
			firstHeap, firstRSS = heapAndRSS()
		}
		i++
	}
	heap, rss := heapAndRSS()
	b.ReportMetric(float64(written), "records")
	b.ReportMetric(firstHeap, "heapMiB@100k")
	b.ReportMetric(heap, "heapMiB@end")
	b.ReportMetric(firstRSS, "rssMiB@100k")
	b.ReportMetric(rss, "rssMiB@end")
}

func heapAndRSS() (heapMiB, rssMiB float64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heapMiB = float64(ms.HeapInuse) / (1 << 20)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				rssMiB = kb / 1024
			}
		}
	}
	return heapMiB, rssMiB
}

// BenchmarkPeersInterleaved measures PutRecords for every server in
// alternating 700 ms slices over three rounds, so a machine whose load
// changes during the run (other jobs) affects all servers alike; the
// reported ratios are what to quote. One run (b.N) takes about 20 s.
func BenchmarkPeersInterleaved(b *testing.B) {
	peersOnly(b)
	type target struct {
		peer
		c       *kinesis.Client
		streams map[int]string
	}
	var ts []*target
	for _, p := range append(startPeers(b), peer{"client-ceiling", putCeiling(b)}) {
		t := &target{peer: p, c: testpeers.KinesisClient(b, p.endpoint), streams: map[int]string{}}
		for _, size := range []int{100, 1024} {
			t.streams[size] = freshStream(b, t.c, 4)
		}
		ts = append(ts, t)
	}
	type key struct {
		name string
		size int
	}
	recs := map[key]int64{}
	secs := map[key]float64{}
	b.ResetTimer()
	for range b.N {
		for range 3 {
			for _, size := range []int{100, 1024} {
				for _, t := range ts {
					n, el := putFor(b, t.c, t.streams[size], size, 700*time.Millisecond)
					recs[key{t.name, size}] += n
					secs[key{t.name, size}] += el.Seconds()
				}
			}
		}
	}
	b.StopTimer()
	rate := func(name string, size int) float64 { return float64(recs[key{name, size}]) / secs[key{name, size}] }
	for _, size := range []int{100, 1024} {
		for _, t := range ts {
			b.ReportMetric(rate(t.name, size), fmt.Sprintf("%s-%dB-rec/s", t.name, size))
		}
		best := max(rate("kinesalite", size), rate("kinesis-local", size))
		b.ReportMetric(rate("sluice", size)/best, fmt.Sprintf("x-faster-emulator-%dB", size))
		b.ReportMetric(rate("sluice", size)/rate("client-ceiling", size), fmt.Sprintf("of-ceiling-%dB", size))
	}
}

// putFor runs 8 concurrent producers of 500-record PutRecords calls for d
// and returns the records accepted and the time taken.
func putFor(b *testing.B, c *kinesis.Client, name string, size int, d time.Duration) (int64, time.Duration) {
	var ok atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	done := make(chan struct{})
	for w := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			in := putBatch(name, size, 500, w)
			for time.Now().Before(deadline) {
				out, err := c.PutRecords(context.Background(), in)
				if err != nil {
					b.Error(err)
					return
				}
				ok.Add(int64(len(in.Records)) - int64(*out.FailedRecordCount))
			}
		}()
	}
	for range 8 {
		<-done
	}
	return ok.Load(), time.Since(start)
}
