package streams

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// reader is the trigger's read interface (triggers/kinesis Reader + Waiter),
// declared here so streams does not import triggers.
type reader interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	WaitForRecords(ctx context.Context, shardIterator string) error
}

var _ reader = (*Client)(nil)

// fakeClock is a settable clock for expiry and throttling tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Millisecond)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTest(t testing.TB, opts Options) *Engine {
	t.Helper()
	if opts.CreateDelay == 0 {
		opts.CreateDelay = -1
	}
	e, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// sdkClient returns the official SDK client talking to e over HTTP.
func sdkClient(t testing.TB, e *Engine) *kinesis.Client {
	t.Helper()
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	return sdkClientFor(srv.URL)
}

func sdkClientFor(url string) *kinesis.Client {
	// kinesis.New with explicit options, not config.LoadDefaultConfig: the
	// environment may carry AWS_CA_BUNDLE (shared/tooling.md).
	return kinesis.New(kinesis.Options{
		BaseEndpoint:     aws.String(url),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AK", "SK", ""),
		RetryMaxAttempts: 1,
	})
}

func mustCreate(t testing.TB, e *Engine, name string, shards int) {
	t.Helper()
	if err := e.CreateStream(context.Background(), name, shards); err != nil {
		t.Fatal(err)
	}
}
