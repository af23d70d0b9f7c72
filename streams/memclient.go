package streams

import (
	"context"
	"net"
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// SDKClient returns an aws-sdk-go-v2 Kinesis client whose requests reach
// the engine's HTTP API through in-memory connections: the real protocol
// (AWS JSON 1.1, and SubscribeToShard's event stream), without a port.
// In-process readers use it where the in-process Client has no
// equivalent, for enhanced fan-out. When SigV4 verification is on, the
// client signs with the first configured key. close ends its connections.
func (e *Engine) SDKClient() (client *kinesis.Client, close func()) {
	l := &memListener{conns: make(chan net.Conn), closed: make(chan struct{})}
	srv := &http.Server{Handler: e.Handler()}
	go srv.Serve(l)
	opts := kinesis.Options{
		Region:       e.opts.Region,
		BaseEndpoint: aws.String("http://sluice.in-memory"),
		Credentials:  aws.AnonymousCredentials{},
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.DialContext = l.dial
			// A fresh connection per request: net.Pipe connections are
			// unbuffered, and one reused after an error answer ended the
			// next SubscribeToShard stream at once with "read/write on
			// closed pipe" (TestSDKClientSubscribesAfterAnErrorAnswer).
			// Subscriptions hold their connection for minutes anyway.
			t.DisableKeepAlives = true
		}),
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	for id, secret := range e.opts.Credentials {
		opts.Credentials = credentials.NewStaticCredentialsProvider(id, secret, "")
		break
	}
	return kinesis.New(opts), func() { srv.Close() }
}

// memListener hands the server ends of in-memory connections to an
// http.Server.
type memListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *memListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "sluice.in-memory" }
