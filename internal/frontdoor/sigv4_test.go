package frontdoor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var testKeys = map[string]string{"AKGOOD": "right-secret"}

// signed returns a request for target signed as the SDK signs it, with
// the headers sign lists (nil: all).
func signed(t *testing.T, target, body, secret string, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", "http://127.0.0.1:4567/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", target)
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKGOOD", SecretAccessKey: secret},
		r, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return r
}

func sigCode(err error) string {
	var se *SigError
	if errors.As(err, &se) {
		return se.Code + ": " + se.Message
	}
	if err != nil {
		return "not a SigError: " + err.Error()
	}
	return ""
}

func TestVerifySigV4(t *testing.T) {
	now := time.Now()
	body := `{"StreamName":"orders"}`
	r := signed(t, "Kinesis_20131202.DescribeStreamSummary", body, "right-secret", now)
	if err := VerifySigV4(r, []byte(body), testKeys, now); err != nil {
		t.Fatalf("a correctly signed request: %v", err)
	}
	tests := []struct {
		name string
		req  func() (*http.Request, string)
		want string
	}{
		{"unsigned", func() (*http.Request, string) {
			r := httptest.NewRequest("POST", "/", nil)
			r.Header.Set("X-Amz-Target", "Firehose_20150804.PutRecord")
			return r, body
		}, "MissingAuthenticationTokenException"},
		{"wrong secret", func() (*http.Request, string) {
			return signed(t, "Firehose_20150804.PutRecord", body, "wrong-secret", now), body
		}, "InvalidSignatureException"},
		{"garbage signature", func() (*http.Request, string) {
			r := signed(t, "Firehose_20150804.PutRecord", body, "right-secret", now)
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.Index(a, "Signature=")]+"Signature=deadbeef")
			return r, body
		}, "InvalidSignatureException"},
		{"replayed as another operation", func() (*http.Request, string) {
			r := signed(t, "Kinesis_20131202.DescribeStreamSummary", body, "right-secret", now)
			r.Header.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream")
			return r, body
		}, "InvalidSignatureException"},
		{"another body", func() (*http.Request, string) {
			return signed(t, "Kinesis_20131202.DescribeStreamSummary", body, "right-secret", now), `{"StreamName":"other"}`
		}, "InvalidSignatureException"},
		{"expired", func() (*http.Request, string) {
			return signed(t, "Kinesis_20131202.DescribeStreamSummary", body, "right-secret", now.Add(-time.Hour)), body
		}, "InvalidSignatureException: Signature expired"},
		{"unknown key", func() (*http.Request, string) {
			r := signed(t, "Kinesis_20131202.DescribeStreamSummary", body, "right-secret", now)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AKGOOD", "AKBAD", 1))
			return r, body
		}, "UnrecognizedClientException"},
		{"x-amz-target not signed", func() (*http.Request, string) {
			return withoutSigned(t, "x-amz-target", now), body
		}, "IncompleteSignatureException: SignedHeaders must include x-amz-target"},
		{"x-amz-date not signed", func() (*http.Request, string) {
			return withoutSigned(t, "x-amz-date", now), body
		}, "IncompleteSignatureException: SignedHeaders must include x-amz-date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, b := tt.req()
			if got := sigCode(VerifySigV4(r, []byte(b), testKeys, now)); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %q, want %s", got, tt.want)
			}
		})
	}
}

// withoutSigned is a DeleteStream whose signature is valid but does not
// cover header (x-amz-target: signed before the header was added;
// x-amz-date: dropped from SignedHeaders).
func withoutSigned(t *testing.T, header string, now time.Time) *http.Request {
	body := `{"StreamName":"orders"}`
	r := httptest.NewRequest("POST", "http://127.0.0.1:4567/", strings.NewReader(body))
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKGOOD", SecretAccessKey: "right-secret"},
		r, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream")
	if header == "x-amz-date" {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-amz-date", "", 1))
	}
	if a := r.Header.Get("Authorization"); strings.Contains(a, header) {
		t.Fatalf("%s still signed: %s", header, a)
	}
	return r
}
