package streams

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
)

func TestVerifySigV4(t *testing.T) {
	e := openTest(t, Options{Credentials: map[string]string{"AKGOOD": "right-secret"}})
	mustCreate(t, e, "sig", 1)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	client := func(ak, sk string) *kinesis.Client {
		return kinesis.New(sdkClientFor(srv.URL).Options(), func(o *kinesis.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(ak, sk, "")
		})
	}
	ctx := context.Background()
	put := func(c *kinesis.Client) error {
		_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("sig"), PartitionKey: aws.String("k"), Data: []byte("signed body")})
		return err
	}
	if err := put(client("AKGOOD", "right-secret")); err != nil {
		t.Fatalf("correctly signed request: %v", err)
	}
	tests := []struct{ name, ak, sk, code string }{
		{"wrong secret", "AKGOOD", "wrong-secret", "InvalidSignatureException"},
		{"unknown key", "AKBAD", "right-secret", "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ae smithy.APIError
			if err := put(client(tt.ak, tt.sk)); !errors.As(err, &ae) || ae.ErrorCode() != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
		})
	}
	// An unsigned request.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"StreamName":"sig"}`))
	req.Header.Set("X-Amz-Target", "Kinesis_20131202.DescribeStreamSummary")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	e.Handler().ServeHTTP(rec, req)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "MissingAuthenticationTokenException") {
		t.Fatalf("unsigned: %d %s", rec.Code, rec.Body)
	}
}

// A signature is only good for the operation it signed: replaying a
// captured DescribeStreamSummary as DeleteStream, or presenting a
// signature that does not cover X-Amz-Target, is refused and the stream
// stays.
func TestSigV4CoversTheOperation(t *testing.T) {
	e := openTest(t, Options{Credentials: map[string]string{"AKGOOD": "right-secret"}})
	mustCreate(t, e, "sig", 1)
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	body := `{"StreamName":"sig"}`
	sign := func(target string) *http.Request {
		r, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		if target != "" {
			r.Header.Set("X-Amz-Target", target)
		}
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKGOOD", SecretAccessKey: "right-secret"},
			r, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	send := func(r *http.Request) (int, string) {
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, b := send(sign("Kinesis_20131202.DescribeStreamSummary")); code != 200 {
		t.Fatalf("signed DescribeStreamSummary: %d %s", code, b)
	}
	replay := sign("Kinesis_20131202.DescribeStreamSummary")
	replay.Header.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream")
	if code, b := send(replay); code != 403 || !strings.Contains(b, "InvalidSignatureException") {
		t.Fatalf("replayed as DeleteStream: %d %s", code, b)
	}
	unsigned := sign("")
	unsigned.Header.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream")
	if code, b := send(unsigned); code != 400 || !strings.Contains(b, "IncompleteSignatureException") || !strings.Contains(b, "SignedHeaders must include x-amz-target") {
		t.Fatalf("X-Amz-Target not signed: %d %s", code, b)
	}
	if _, err := e.Client().DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("sig")}); err != nil {
		t.Fatalf("the stream is gone: %v", err)
	}
}
