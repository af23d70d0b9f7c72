package streams

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/frontdoor"
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

// TestTLSCertificateIsALeaf: the generated certificate proves its own names
// to a client that trusts it, and nothing else. It used to be an
// unconstrained CA: a certificate for any site signed with its key was
// accepted by every client told to trust kinesis-tls.pem.
func TestTLSCertificateIsALeaf(t *testing.T) {
	certPEM, keyPEM, err := NewTLSCertificate(time.Hour, "127.0.0.1", "localhost", "sluice.internal")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Errorf("IsCA=%v basic constraints=%v key usage=%b: want a leaf that signs nothing", cert.IsCA, cert.BasicConstraintsValid, cert.KeyUsage)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature || len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("key usage %b, extended %v: want DigitalSignature and ServerAuth only", cert.KeyUsage, cert.ExtKeyUsage)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	for _, name := range []string{"127.0.0.1", "localhost", "sluice.internal"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("a client trusting the certificate rejects it for %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "bank.example"}); err == nil {
		t.Error("the certificate is accepted for a name it was not made for")
	}

	// Whoever holds the key signs a certificate for another site: a client
	// trusting kinesis-tls.pem must refuse it.
	keyBlock, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	forged := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "bank.example"}, DNSNames: []string{"bank.example"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	victimKey, _ := ecdsa.GenerateKey(key.(*ecdsa.PrivateKey).Curve, rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, forged, cert, &victimKey.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	fc, _ := x509.ParseCertificate(der)
	_, err = fc.Verify(x509.VerifyOptions{Roots: roots, DNSName: "bank.example"})
	if err == nil {
		t.Fatal("a certificate for bank.example signed with the listener's key is trusted by its clients")
	}
	t.Logf("a certificate for bank.example signed with the listener's key is refused: %v", err)
}

// TestSubscriptionOutlivesListenerTimeouts: SubscribeToShard holds its
// connection for minutes, longer than a listener's ReadTimeout and
// WriteTimeout. The stream moves its deadlines as it writes, so a record
// put after both timeouts passed still arrives, over HTTP/1.1 (where the
// passing ReadTimeout used to cancel the request) and over HTTP/2 with TLS
// (where the WriteTimeout used to reset the stream).
func TestSubscriptionOutlivesListenerTimeouts(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	const timeout = time.Second
	limits := frontdoor.Limits{ReadHeaderTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, IdleTimeout: timeout}
	for _, overTLS := range []bool{false, true} {
		name := map[bool]string{false: "http1", true: "h2-tls"}[overTLS]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := openTest(t, Options{})
			mustCreate(t, e, "slow", 1)
			o := frontdoor.Options{Name: name, Addr: "127.0.0.1:0", Handler: e.Handler(), Shape: frontdoor.AWSJSON, Limits: limits}
			hc := awshttp.NewBuildableClient()
			scheme := "http://"
			if overTLS {
				cfg, certPEM, err := SelfSignedTLS()
				if err != nil {
					t.Fatal(err)
				}
				o.TLS, scheme = cfg, "https://"
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM(certPEM)
				hc = hc.WithTransportOptions(func(tr *http.Transport) {
					tr.TLSClientConfig = &tls.Config{RootCAs: pool}
					tr.ForceAttemptHTTP2 = true
				})
			}
			srv, err := frontdoor.Listen(o)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			var proto int
			c := kinesis.New(sdkClientFor(scheme+srv.Addr.String()).Options(), func(o *kinesis.Options) {
				o.HTTPClient = protoSpy{sdkhttp.DetachedBody{Inner: hc}, &proto}
			})
			ctx := context.Background()
			reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
				StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/slow"), ConsumerName: aws.String("c")})
			if err != nil {
				t.Fatal(err)
			}
			sub, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
				StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.GetStream().Close()
			if want := map[bool]int{false: 1, true: 2}[overTLS]; proto != want {
				t.Fatalf("subscribed over HTTP/%d, want %d", proto, want)
			}
			// The property is about time: let both timeouts pass.
			time.Sleep(2*timeout + timeout/2)
			if _, err := e.Client().PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("slow"), PartitionKey: aws.String("k"), Data: []byte("late")}); err != nil {
				t.Fatal(err)
			}
			got, _ := readRecords(t, sub.GetStream().Events(), 1)
			if string(got[0].Data) != "late" {
				t.Fatalf("got %q", got[0].Data)
			}
		})
	}
}
