package streams

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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
