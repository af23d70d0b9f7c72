package streams

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Hostile clients of the Kinesis HTTP API (issue 13): they get a clear
// refusal, never the process's memory.

// firstRead signals once per request when the handler first reads its
// body: by then the old handler had already grown its buffer to the
// Content-Length.
type firstRead struct {
	io.ReadCloser
	once   sync.Once
	signal chan<- struct{}
}

func (f *firstRead) Read(p []byte) (int, error) {
	f.once.Do(func() { f.signal <- struct{}{} })
	return f.ReadCloser.Read(p)
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// vmRSS is the process's resident set from /proc (0 where there is none).
func vmRSS() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func TestHeaderOnlyRequestsHoldNoMemory(t *testing.T) {
	const conns = 150
	e := openTest(t, Options{})
	mustCreate(t, e, "orders", 2)
	reading := make(chan struct{}, conns)
	h := e.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Hostile") != "" {
			r.Body = &firstRead{ReadCloser: r.Body, signal: reading}
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	before, rss := heapInuse(), vmRSS()
	// Each connection announces a maximal PutRecords body and sends none
	// of it.
	for range conns {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nX-Hostile: 1\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\n"+
			"Content-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n", srv.Listener.Addr(), maxBody)
	}
	for range conns {
		<-reading
	}
	after := heapInuse()
	growth := int64(after) - int64(before)
	t.Logf("%d header-only requests of Content-Length %d: heap in use %d → %d bytes (%+.1f MiB); VmRSS %s → %s",
		conns, maxBody, before, after, float64(growth)/(1<<20), rss, vmRSS())
	if growth > 64<<20 {
		t.Fatalf("heap grew %.1f MiB for %d requests that sent no body", float64(growth)/(1<<20), conns)
	}

	// Meanwhile a producer's acknowledged records are all there.
	client := sdkClientFor(srv.URL)
	ctx := context.Background()
	acked := map[string]bool{}
	for batch := range 4 {
		recs := make([]types.PutRecordsRequestEntry, 500)
		for k := range recs {
			recs[k] = types.PutRecordsRequestEntry{PartitionKey: aws.String(strconv.Itoa(k)), Data: []byte(fmt.Sprintf("rec-%d-%d", batch, k))}
		}
		out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("orders"), Records: recs})
		if err != nil {
			t.Fatalf("a producer under attack: %v", err)
		}
		for k, r := range out.Records {
			if r.ErrorCode == nil {
				acked[string(recs[k].Data)] = true
			}
		}
	}
	if len(acked) == 0 {
		t.Fatal("no record acknowledged")
	}
	// Reading back retries what a reader would retry: once, on a fresh
	// clone under load, a GetRecords answer was cut by a transport error
	// that had nothing to do with the attack (reads are idempotent).
	reader := kinesis.New(client.Options(), func(o *kinesis.Options) { o.RetryMaxAttempts = 5 })
	for _, data := range readStream(t, reader, "orders") {
		delete(acked, data)
	}
	if len(acked) > 0 {
		t.Fatalf("%d acknowledged records not read back", len(acked))
	}
}

// readStream reads every record of stream from the start.
func readStream(t *testing.T, c *kinesis.Client, stream string) []string {
	t.Helper()
	ctx := context.Background()
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range shards.Shards {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for iter := it.ShardIterator; iter != nil; {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				got = append(got, string(r.Data))
			}
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return got
}

// post sends body raw (not through the SDK, which refuses to send some
// of these) and returns the status and decoded error.
func post(t *testing.T, url string, header map[string]string, body io.Reader, length int64) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the client saw %v, not an answer", err)
	}
	defer resp.Body.Close()
	var out map[string]string
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer %d %.200q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, out
}

func TestOversizedBodyGetsTheAPIError(t *testing.T) {
	e := openTest(t, Options{})
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	target := map[string]string{"X-Amz-Target": "Kinesis_20131202.PutRecords"}
	for name, length := range map[string]int64{"announced": maxBody + 1<<20, "chunked": -1} {
		prefix := `{"StreamName":"s","Records":[`
		body := io.MultiReader(strings.NewReader(prefix), &zeros{n: maxBody + 1<<20 - len(prefix)})
		status, out := post(t, srv.URL, target, body, length)
		if status != http.StatusRequestEntityTooLarge || out["__type"] != "InvalidArgumentException" ||
			out["message"] != "Request body exceeds the maximum size of 11 MiB." {
			t.Fatalf("%s: %d %v", name, status, out)
		}
	}
}

// zeros is n bytes of '0'.
type zeros struct{ n int }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), z.n)
	for i := range p[:k] {
		p[i] = '0'
	}
	z.n -= k
	return k, nil
}

func TestErrorsDoNotEchoHugeInputs(t *testing.T) {
	e := openTest(t, Options{})
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	huge := strings.Repeat("A", 100_000)
	for name, tc := range map[string]struct {
		header map[string]string
		body   string
	}{
		"target":       {map[string]string{"X-Amz-Target": "Kinesis_20131202." + huge}, "{}"},
		"content type": {map[string]string{"X-Amz-Target": "Kinesis_20131202.ListStreams", "Content-Type": "application/" + huge}, "{}"},
		"stream name":  {map[string]string{"X-Amz-Target": "Kinesis_20131202.DescribeStreamSummary"}, `{"StreamName":"` + huge + `"}`},
	} {
		status, out := post(t, srv.URL, tc.header, strings.NewReader(tc.body), int64(len(tc.body)))
		if status != http.StatusBadRequest || out["__type"] == "" || len(out["message"]) > 1024 {
			t.Fatalf("%s: %d %s, a %d-byte message", name, status, out["__type"], len(out["message"]))
		}
		t.Logf("%s: %d %s: %.120s...", name, status, out["__type"], out["message"])
	}
}
