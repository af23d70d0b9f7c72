package testpeers

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// KinesisClient returns an aws-sdk-go-v2 Kinesis client for endpoint with
// dummy static credentials in us-east-1. It passes no custom HTTP client:
// with AWS_CA_BUNDLE set (as on CI), config.WithHTTPClient(&http.Client{})
// makes LoadDefaultConfig fail.
func KinesisClient(t testing.TB, endpoint string) *kinesis.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDSLUICETEST", "sluice-test-secret", "")),
	)
	if err != nil {
		t.Fatalf("testpeers: load AWS config: %v", err)
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})
}
