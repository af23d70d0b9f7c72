package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/frontdoor"
	"github.com/sluice-dev/sluice/sinks/firehose"
	firehoseapi "github.com/sluice-dev/sluice/sinks/firehose/api"
	"github.com/sluice-dev/sluice/sinks/localdir"
	"github.com/sluice-dev/sluice/streams"
)

// The API port's router (issue 13): every API on it is read under one
// budget of in-flight bytes and, with --verify-sigv4, verified by one
// verifier before its handler runs.

type routerFixture struct {
	i      *instance
	engine *streams.Engine
	ds     *firehose.DeliveryStream
	ld     *localdir.Dir
}

// newRouter serves an embedded stream "orders" and a delivery stream
// "events" through the router, as `sluice up` does.
func newRouter(t *testing.T, cfg Config) *routerFixture {
	t.Helper()
	t.Setenv("AWS_CA_BUNDLE", "")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	base := t.TempDir()
	engine, err := streams.Open(filepath.Join(base, "streams"), streams.Options{Credentials: cfg.kinesisKeys(), CreateDelay: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	if err := engine.CreateStream(context.Background(), "orders", 1); err != nil {
		t.Fatal(err)
	}
	ld, err := localdir.New(filepath.Join(base, "b"), filepath.Join(base, "tmp"), filepath.Join(base, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := firehose.Open(firehose.Config{Name: "events", Bucket: "lake", Prefix: "events/", BufferSize: 5 * firehose.MiB,
		BufferInterval: 300 * time.Second, AppendDelimiter: true},
		firehose.Options{StateDir: filepath.Join(base, "state"), Destination: ld, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close(context.Background()) })
	i := &instance{cfg: cfg, log: quiet, clock: clock.Real(), refusals: frontdoor.NewRefusals(quiet), api: map[string]http.Handler{
		kinesisTarget:            engine.Handler(),
		firehoseapi.TargetPrefix: firehoseapi.New("us-east-1", "000000000000", map[string]firehoseapi.Stream{"events": {DS: ds}}),
	}}
	return &routerFixture{i: i, engine: engine, ds: ds, ld: ld}
}

func kinesisClient(url string, creds aws.CredentialsProvider) *awskinesis.Client {
	return awskinesis.New(awskinesis.Options{BaseEndpoint: aws.String(url), Region: "us-east-1", Credentials: creds, RetryMaxAttempts: 1})
}

func firehoseClient(url string, creds aws.CredentialsProvider) *fh.Client {
	return fh.New(fh.Options{BaseEndpoint: aws.String(url), Region: "us-east-1", Credentials: creds, RetryMaxAttempts: 1})
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return fmt.Sprint(err)
}

// delivered flushes the delivery stream and returns the records written.
func (f *routerFixture) delivered(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	if err := f.ds.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := f.ld.List(ctx, "lake", "events/")
	if err != nil {
		t.Fatal(err)
	}
	var recs []string
	for _, k := range keys {
		b, _, err := f.ld.Get(ctx, "lake", k)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")...)
	}
	return recs
}

// signedRequest is a request to url signed by AKGOOD over the headers set
// before signing; edit runs after signing.
func signedRequest(t *testing.T, url, target, body string, sign bool, edit func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		r.Header.Set("X-Amz-Target", target)
	}
	if sign {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKGOOD", SecretAccessKey: "right-secret"},
			r, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(r)
	}
	return r
}

func send(t *testing.T, r *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRouterVerifiesSigV4ForEveryAPI(t *testing.T) {
	f := newRouter(t, Config{VerifySigV4: []string{"AKGOOD:right-secret"}})
	srv := httptest.NewServer(f.i.targetRouter())
	defer srv.Close()
	ctx := context.Background()
	good := credentials.NewStaticCredentialsProvider("AKGOOD", "right-secret", "")

	// Firehose: signed puts are written; unsigned, wrongly signed or
	// garbage-signed ones are refused with the error the SDK user sees.
	if _, err := firehoseClient(srv.URL, good).PutRecord(ctx, &fh.PutRecordInput{DeliveryStreamName: aws.String("events"), Record: &fhtypes.Record{Data: []byte("signed")}}); err != nil {
		t.Fatalf("a signed PutRecord: %v", err)
	}
	batch := &fh.PutRecordBatchInput{DeliveryStreamName: aws.String("events"), Records: []fhtypes.Record{{Data: []byte("forged-1")}, {Data: []byte("forged-2")}}}
	for name, tc := range map[string]struct {
		creds aws.CredentialsProvider
		want  string
	}{
		"unsigned":     {aws.AnonymousCredentials{}, "MissingAuthenticationTokenException: Missing Authentication Token"},
		"wrong secret": {credentials.NewStaticCredentialsProvider("AKGOOD", "wrong-secret", ""), "InvalidSignatureException: The request signature we calculated does not match"},
		"unknown key":  {credentials.NewStaticCredentialsProvider("AKBAD", "right-secret", ""), "UnrecognizedClientException"},
	} {
		c := firehoseClient(srv.URL, tc.creds)
		_, err := c.PutRecord(ctx, &fh.PutRecordInput{DeliveryStreamName: aws.String("events"), Record: &fhtypes.Record{Data: []byte("forged")}})
		if got := apiCode(err); !strings.HasPrefix(got, tc.want) {
			t.Fatalf("%s PutRecord: %s, want %s", name, got, tc.want)
		}
		_, err = c.PutRecordBatch(ctx, batch)
		if got := apiCode(err); !strings.HasPrefix(got, tc.want) {
			t.Fatalf("%s PutRecordBatch: %s, want %s", name, got, tc.want)
		}
	}
	garbage := signedRequest(t, srv.URL, "Firehose_20150804.PutRecordBatch", `{"DeliveryStreamName":"events","Records":[{"Data":"Zm9yZ2Vk"}]}`, true, func(r *http.Request) {
		a := r.Header.Get("Authorization")
		r.Header.Set("Authorization", a[:strings.Index(a, "Signature=")]+"Signature="+strings.Repeat("0", 64))
	})
	if code, b := send(t, garbage); code != http.StatusForbidden || !strings.Contains(b, `"__type":"InvalidSignatureException"`) {
		t.Fatalf("garbage signature: %d %s", code, b)
	}
	if got := f.delivered(t); len(got) != 1 || got[0] != "signed" {
		t.Fatalf("delivered %q, want only the signed record", got)
	}

	// Kinesis: a signature is good for the operation it signed.
	if _, err := kinesisClient(srv.URL, good).DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")}); err != nil {
		t.Fatalf("a signed DescribeStreamSummary: %v", err)
	}
	body := `{"StreamName":"orders"}`
	replay := signedRequest(t, srv.URL, "Kinesis_20131202.DescribeStreamSummary", body, true, func(r *http.Request) {
		r.Header.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream")
	})
	if code, b := send(t, replay); code != http.StatusForbidden || !strings.Contains(b, "InvalidSignatureException") {
		t.Fatalf("DescribeStreamSummary replayed as DeleteStream: %d %s", code, b)
	}
	targetless := signedRequest(t, srv.URL, "", body, true, func(r *http.Request) {
		r.Header.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream")
	})
	if code, b := send(t, targetless); code != http.StatusBadRequest || !strings.Contains(b, "IncompleteSignatureException") ||
		!strings.Contains(b, "SignedHeaders must include x-amz-target") {
		t.Fatalf("a signature without x-amz-target: %d %s", code, b)
	}
	if _, err := f.engine.Client().DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String("orders")}); err != nil {
		t.Fatalf("the stream was deleted: %v", err)
	}
	if n := f.i.refusals.Count("kinesis", "sigv4"); n != 9 {
		t.Fatalf("%v sigv4 refusals counted, want 9", n)
	}
}

// holdBudget sends all but the last byte of an n-byte body on a raw
// connection and waits until the router holds them; finish sends the last
// byte and returns the answer's status line.
func holdBudget(t *testing.T, f *routerFixture, addr string, n int) (finish func() string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	body := append(append([]byte{'{'}, bytes.Repeat([]byte{' '}, n-2)...), '}')
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n", addr, n)
	go c.Write(body[:n-1])
	waitFor(t, "the router to hold the body", func() bool { return f.i.front.budget.InUse() == int64(n-1) })
	return func() string {
		c.Write(body[n-1:])
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("the held request's answer: %v", err)
		}
		return strings.TrimSpace(line)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRouterInflightBudget(t *testing.T) {
	f := newRouter(t, Config{Listen: ListenLimits{MaxInflightBytes: 12 << 20, InflightWait: 300 * time.Millisecond}})
	srv := httptest.NewServer(f.i.targetRouter())
	defer srv.Close()
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider("AK", "SK", "")
	finish := holdBudget(t, f, srv.Listener.Addr().String(), 11<<20)

	// 11 MiB of the 12 are held: a 2 MB PutRecords waits, then gets 503.
	recs := make([]types.PutRecordsRequestEntry, 3)
	for k := range recs {
		recs[k] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: bytes.Repeat([]byte{byte('a' + k)}, 700_000)}
	}
	put := &awskinesis.PutRecordsInput{StreamName: aws.String("orders"), Records: recs}
	_, err := kinesisClient(srv.URL, creds).PutRecords(ctx, put)
	var re *awshttp.ResponseError
	if got := apiCode(err); !errors.As(err, &re) || re.HTTPStatusCode() != 503 || !strings.HasPrefix(got, "ServiceUnavailable: ") {
		t.Fatalf("PutRecords over the budget: %s, want a 503 ServiceUnavailable", got)
	}
	t.Logf("the Kinesis SDK user sees: %v", err)
	batch := &fh.PutRecordBatchInput{DeliveryStreamName: aws.String("events"), Records: []fhtypes.Record{
		{Data: bytes.Repeat([]byte("x"), 700_000)}, {Data: bytes.Repeat([]byte("y"), 700_000)}}}
	_, err = firehoseClient(srv.URL, creds).PutRecordBatch(ctx, batch)
	var su *fhtypes.ServiceUnavailableException
	if !errors.As(err, &su) || !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("PutRecordBatch over the budget: %v, want a 503 ServiceUnavailableException", err)
	}
	if n := f.i.refusals.Count("kinesis", "inflight-budget"); n != 2 {
		t.Fatalf("%v inflight-budget refusals counted, want 2", n)
	}

	// Once the held body is done, the same calls go through.
	if got := finish(); !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("the held request: %s", got)
	}
	waitFor(t, "the budget to be free", func() bool { return f.i.front.budget.InUse() == 0 })
	out, err := kinesisClient(srv.URL, creds).PutRecords(ctx, put)
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords with the budget free: %v", err)
	}
	if _, err := firehoseClient(srv.URL, creds).PutRecordBatch(ctx, batch); err != nil {
		t.Fatalf("PutRecordBatch with the budget free: %v", err)
	}
	c := f.engine.Client()
	it, err := c.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{StreamName: aws.String("orders"), ShardId: out.Records[0].ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(got.Records) != 3 {
		t.Fatalf("read back %d records, %v; want the 3 acknowledged", len(got.Records), err)
	}
	for k, r := range got.Records {
		if !bytes.Equal(r.Data, recs[k].Data) {
			t.Fatalf("record %d differs", k)
		}
	}
	if d := f.delivered(t); len(d) != 2 || len(d[0]) != 700_000 || len(d[1]) != 700_000 {
		t.Fatalf("delivered %d records, want the 2 acknowledged", len(d))
	}
}

// One HTTP/2 connection opens 200 streams that announce 11 MiB and send
// nothing, with SigV4 on (the body cannot be verified before it arrives):
// the process holds kilobytes per stream, not the announced megabytes.
func TestRouterHTTP2HeaderOnlyStreams(t *testing.T) {
	const streamsN = 200
	f := newRouter(t, Config{VerifySigV4: []string{"AKGOOD:right-secret"}})
	reading := make(chan struct{}, streamsN)
	router := f.i.targetRouter()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &firstRead{ReadCloser: r.Body, signal: reading}
		router.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	// The client in this process keeps a scratch buffer per request body
	// of up to 512 KiB, capped by the server's frame size: keep that small,
	// so the heap measures the server.
	srv.Config.HTTP2 = &http.HTTP2Config{MaxReadFrameSize: 16 << 10}
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	// One connection first, so that every stream below shares it.
	if resp, err := client.Get(srv.URL); err != nil || resp.ProtoMajor != 2 {
		t.Fatalf("an HTTP/2 connection: %v", err)
	} else {
		resp.Body.Close()
	}
	<-reading

	before := heapInuse()
	var wg sync.WaitGroup
	var pipes []*io.PipeWriter
	defer func() {
		for _, pw := range pipes {
			pw.CloseWithError(errors.New("test over"))
		}
		wg.Wait()
	}()
	for k := range streamsN {
		pr, pw := io.Pipe()
		pipes = append(pipes, pw)
		req, _ := http.NewRequest("POST", srv.URL, pr)
		req.ContentLength = streams.MaxRequestBody
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("Authorization", fmt.Sprintf("AWS4-HMAC-SHA256 Credential=AKGOOD/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=%064d", k))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := client.Do(req); err == nil {
				if resp.ProtoMajor != 2 {
					t.Errorf("served over HTTP/%d", resp.ProtoMajor)
				}
				resp.Body.Close()
			}
		}()
	}
	for range streamsN {
		<-reading
	}
	after := heapInuse()
	growth := int64(after) - int64(before)
	if n := conns.Load(); n != 1 {
		t.Fatalf("the streams came on %d connections, want 1", n)
	}
	t.Logf("%d HTTP/2 streams announcing %d bytes and sending none: heap in use %+.1f MiB", streamsN, streams.MaxRequestBody, float64(growth)/(1<<20))
	if growth > 64<<20 {
		t.Fatalf("heap grew %.1f MiB for %d streams that sent no body", float64(growth)/(1<<20), streamsN)
	}
}

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
