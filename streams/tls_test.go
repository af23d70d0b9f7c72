package streams

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/sdkhttp"
)

// TestSubscribeOverHTTP2TLS: with SelfSignedTLS the API is served over
// HTTP/2, as AWS serves SubscribeToShard, and the SDK subscribes over it.
func TestSubscribeOverHTTP2TLS(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	e := openTest(t, Options{})
	mustCreate(t, e, "tls", 1)
	cfg, certPEM, err := SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(e.Handler())
	srv.TLS = cfg
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	var proto int
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		tr.ForceAttemptHTTP2 = true
	})
	c := kinesis.New(sdkClientFor(srv.URL).Options(), func(o *kinesis.Options) {
		o.HTTPClient = protoSpy{sdkhttp.DetachedBody{Inner: hc}, &proto}
	})
	ctx := context.Background()
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/tls"), ConsumerName: aws.String("c")})
	if err != nil {
		t.Fatal(err)
	}
	if proto != 2 {
		t.Fatalf("served over HTTP/%d, want 2", proto)
	}
	if _, err := e.Client().PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("tls"), PartitionKey: aws.String("k"), Data: []byte("over h2")}); err != nil {
		t.Fatal(err)
	}
	sub, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.GetStream().Close()
	got, _ := readRecords(t, sub.GetStream().Events(), 1)
	if string(got[0].Data) != "over h2" || proto != 2 {
		t.Fatalf("got %q over HTTP/%d", got[0].Data, proto)
	}
}

type protoSpy struct {
	inner interface {
		Do(*http.Request) (*http.Response, error)
	}
	proto *int
}

func (p protoSpy) Do(r *http.Request) (*http.Response, error) {
	resp, err := p.inner.Do(r)
	if err == nil {
		*p.proto = resp.ProtoMajor
	}
	return resp, err
}
