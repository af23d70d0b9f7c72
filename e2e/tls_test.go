package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/harness"

	"github.com/sluice-dev/sluice/internal/sdkhttp"
)

// TestKinesisOverTLSWithHTTP2: `sluice up --kinesis-tls-addr` serves the
// Kinesis API over TLS with a generated certificate; an SDK client that
// trusts it talks HTTP/2, as to AWS, and enhanced fan-out (SubscribeToShard)
// delivers a record over that connection.
func TestKinesisOverTLSWithHTTP2(t *testing.T) {
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, sluiceBin, nil, "-t", filepath.Join(repoRoot, "template.yaml"), "--state-dir", state,
		"--kinesis-addr", "127.0.0.1:0", "--kinesis-tls-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0",
		"--parameter-overrides", "AnomalyWindowSeconds=2")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	if s.Endpoints.KinesisTLS == "" {
		t.Fatalf("no kinesis-tls endpoint on the ready line:\n%s", s.Log())
	}
	pemCert, err := os.ReadFile(filepath.Join(state, "kinesis-tls.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemCert) {
		t.Fatal("kinesis-tls.pem holds no certificate")
	}
	var http2 atomic.Int32
	c := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoints.KinesisTLS),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient: protoRecorder{&http2, awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: roots}
			tr.ForceAttemptHTTP2 = true
		})},
	})

	put, err := c.PutRecord(ctx, &kinesis.PutRecordInput{
		StreamName: aws.String("clickstream"), PartitionKey: aws.String("tls"), Data: []byte(`{"event_id":"over-tls"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if http2.Load() == 0 {
		t.Fatal("the client did not negotiate HTTP/2 with the TLS port")
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("clickstream")})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN: sum.StreamDescriptionSummary.StreamARN, ConsumerName: aws.String("tls-reader"),
	})
	if err != nil {
		t.Fatal(err)
	}
	waitConsumerActive(ctx, t, c, reg.Consumer.ConsumerARN)
	sub, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: reg.Consumer.ConsumerARN, ShardId: put.ShardId,
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon},
	})
	if err != nil {
		t.Fatal(err)
	}
	stream := sub.GetStream()
	defer stream.Close()
	for {
		select {
		case ev, ok := <-stream.Events():
			if !ok {
				t.Fatalf("event stream ended: %v", stream.Err())
			}
			e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !ok {
				t.Fatalf("unexpected event %T", ev)
			}
			for _, r := range e.Value.Records {
				if aws.ToString(r.SequenceNumber) == aws.ToString(put.SequenceNumber) {
					if !bytes.Equal(r.Data, []byte(`{"event_id":"over-tls"}`)) {
						t.Fatalf("record data %q", r.Data)
					}
					return
				}
			}
		case <-ctx.Done():
			t.Fatal("the record never arrived over SubscribeToShard")
		}
	}
}

// protoRecorder counts HTTP/2 responses. It also hands the transport a
// request body of its own (sdkhttp.DetachedBody: aws-sdk-go-v2 closes an
// event-stream request's body when the operation returns).
type protoRecorder struct {
	http2 *atomic.Int32
	inner sdkhttp.Doer
}

func (p protoRecorder) Do(r *http.Request) (*http.Response, error) {
	resp, err := sdkhttp.DetachedBody{Inner: p.inner}.Do(r)
	if err == nil && resp.ProtoMajor == 2 {
		p.http2.Add(1)
	}
	return resp, err
}

// waitConsumerActive polls until a registered consumer is ACTIVE:
// registration is asynchronous, as on AWS.
func waitConsumerActive(ctx context.Context, t *testing.T, c *kinesis.Client, arn *string) {
	t.Helper()
	for {
		d, err := c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: arn})
		if err != nil {
			t.Fatal(err)
		}
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("consumer never became ACTIVE")
		case <-time.After(50 * time.Millisecond): // polling the API, as a client must
		}
	}
}
