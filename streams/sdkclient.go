package streams

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-dev/sluice/internal/frontdoor"
)

// SDKClient returns an aws-sdk-go-v2 Kinesis client of the engine's HTTP
// API, served on a loopback port of its own: the real protocol (AWS JSON
// 1.1, and SubscribeToShard's event stream), for in-process readers that
// need what the in-process Client has no equivalent for (enhanced
// fan-out). When SigV4 verification is on, the client signs with a
// configured key. close stops the server and ends its subscriptions.
//
// Why a port and not in-memory connections (net.Pipe): the SDK closes an
// event-stream request's body right after the initial response (see
// RATIONALE.md); on an unbuffered pipe the transport's last read of it
// always lost that race and closed the connection, so every subscription
// ended at once ("read/write on closed pipe"). A loopback socket is what
// every other client of the API uses (and readers still hand the SDK a
// detached body: triggers/kinesis fanout.go).
func (e *Engine) SDKClient() (client *kinesis.Client, close func(), err error) {
	// The same front door as sluice's own listeners: timeouts, connection
	// caps and the Host check (a page rebinding its name to 127.0.0.1
	// could otherwise find this port and delete streams).
	srv, err := frontdoor.Listen(frontdoor.Options{
		Name: "kinesis-loopback", Addr: "127.0.0.1:0", Handler: e.Handler(), Shape: frontdoor.AWSJSON,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("kinesis client listener: %w", err)
	}
	opts := kinesis.Options{
		Region:       e.opts.Region,
		BaseEndpoint: aws.String("http://" + srv.Addr.String()),
		Credentials:  aws.AnonymousCredentials{},
	}
	for id, secret := range e.opts.Credentials {
		opts.Credentials = credentials.NewStaticCredentialsProvider(id, secret, "")
		break
	}
	return kinesis.New(opts), func() { srv.Close() }, nil
}
