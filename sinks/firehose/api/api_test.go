package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-dev/sluice/sinks/firehose"
	"github.com/sluice-dev/sluice/sinks/firehose/api"
	"github.com/sluice-dev/sluice/sinks/localdir"
)

// The handler is exercised with the official aws-sdk-go-v2 Firehose client.

func setup(t *testing.T) (*fh.Client, map[string]*firehose.DeliveryStream, *localdir.Dir) {
	t.Helper()
	t.Setenv("AWS_CA_BUNDLE", "")
	base := t.TempDir()
	ld, err := localdir.New(filepath.Join(base, "b"), filepath.Join(base, "tmp"), filepath.Join(base, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	open := func(name string) *firehose.DeliveryStream {
		d, err := firehose.Open(firehose.Config{Name: name, Bucket: "lake", Prefix: name + "/", BufferSize: 5 * firehose.MiB,
			BufferInterval: 300 * time.Second, AppendDelimiter: true},
			firehose.Options{StateDir: filepath.Join(base, "state"), Destination: ld, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close(context.Background()) })
		return d
	}
	dss := map[string]*firehose.DeliveryStream{"direct": open("direct"), "fromstream": open("fromstream")}
	h := api.New("us-east-1", "123456789012", map[string]api.Stream{
		"direct":     {DS: dss["direct"], RoleARN: "arn:aws:iam::123456789012:role/r", Created: time.Unix(1700000000, 0)},
		"fromstream": {DS: dss["fromstream"], SourceStreamARN: "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AK", "SK", "")))
	if err != nil {
		t.Fatal(err)
	}
	c := fh.NewFromConfig(cfg, func(o *fh.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return c, dss, ld
}

func TestPutAndDescribe(t *testing.T) {
	c, dss, ld := setup(t)
	ctx := context.Background()
	if _, err := c.PutRecord(ctx, &fh.PutRecordInput{DeliveryStreamName: aws.String("direct"), Record: &types.Record{Data: []byte(`{"n":0}`)}}); err != nil {
		t.Fatal(err)
	}
	var recs []types.Record
	for i := 1; i <= 500; i++ {
		recs = append(recs, types.Record{Data: fmt.Appendf(nil, `{"n":%d}`, i)})
	}
	out, err := c.PutRecordBatch(ctx, &fh.PutRecordBatchInput{DeliveryStreamName: aws.String("direct"), Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.FailedPutCount) != 0 || len(out.RequestResponses) != 500 || aws.ToString(out.RequestResponses[0].RecordId) == "" {
		t.Fatalf("PutRecordBatch = %+v", out)
	}
	if err := dss["direct"].Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := ld.List(ctx, "lake", "direct/")
	if err != nil || len(keys) != 1 {
		t.Fatalf("objects %v, %v", keys, err)
	}
	b, _, err := ld.Get(ctx, "lake", keys[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 501 || lines[0] != `{"n":0}` || lines[500] != `{"n":500}` {
		t.Fatalf("object holds %d lines: %q … %q", len(lines), lines[0], lines[len(lines)-1])
	}

	d, err := c.DescribeDeliveryStream(ctx, &fh.DescribeDeliveryStreamInput{DeliveryStreamName: aws.String("direct")})
	if err != nil {
		t.Fatal(err)
	}
	desc := d.DeliveryStreamDescription
	if desc.DeliveryStreamStatus != types.DeliveryStreamStatusActive || desc.DeliveryStreamType != types.DeliveryStreamTypeDirectPut ||
		aws.ToString(desc.VersionId) != "1" || aws.ToString(desc.DeliveryStreamARN) != "arn:aws:firehose:us-east-1:123456789012:deliverystream/direct" {
		t.Fatalf("description %+v", desc)
	}
	s3d := desc.Destinations[0].ExtendedS3DestinationDescription
	if aws.ToString(s3d.BucketARN) != "arn:aws:s3:::lake" || aws.ToInt32(s3d.BufferingHints.SizeInMBs) != 5 ||
		aws.ToInt32(s3d.BufferingHints.IntervalInSeconds) != 300 || s3d.CompressionFormat != types.CompressionFormatUncompressed {
		t.Fatalf("destination %+v", s3d)
	}
	if !desc.CreateTimestamp.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("CreateTimestamp %v", desc.CreateTimestamp)
	}
}

func TestListDeliveryStreams(t *testing.T) {
	c, _, _ := setup(t)
	out, err := c.ListDeliveryStreams(context.Background(), &fh.ListDeliveryStreamsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.DeliveryStreamNames, []string{"direct", "fromstream"}) || aws.ToBool(out.HasMoreDeliveryStreams) {
		t.Fatalf("list = %v", out.DeliveryStreamNames)
	}
	out, err = c.ListDeliveryStreams(context.Background(), &fh.ListDeliveryStreamsInput{Limit: aws.Int32(1)})
	if err != nil || !slices.Equal(out.DeliveryStreamNames, []string{"direct"}) || !aws.ToBool(out.HasMoreDeliveryStreams) {
		t.Fatalf("list limit 1 = %v, %v", out, err)
	}
	out, err = c.ListDeliveryStreams(context.Background(), &fh.ListDeliveryStreamsInput{DeliveryStreamType: types.DeliveryStreamTypeKinesisStreamAsSource})
	if err != nil || !slices.Equal(out.DeliveryStreamNames, []string{"fromstream"}) {
		t.Fatalf("list by type = %v, %v", out, err)
	}
}

func TestErrors(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	_, err := c.PutRecord(ctx, &fh.PutRecordInput{DeliveryStreamName: aws.String("nope"), Record: &types.Record{Data: []byte("x")}})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || !strings.Contains(nf.ErrorMessage(), "Firehose nope under account 123456789012 not found.") {
		t.Fatalf("unknown stream: %v", err)
	}
	_, err = c.PutRecord(ctx, &fh.PutRecordInput{DeliveryStreamName: aws.String("fromstream"), Record: &types.Record{Data: []byte("x")}})
	var ia *types.InvalidArgumentException
	if !errors.As(err, &ia) || !strings.Contains(ia.ErrorMessage(), "KinesisStreamAsSource") {
		t.Fatalf("put to a stream-sourced delivery stream: %v", err)
	}
	_, err = c.PutRecord(ctx, &fh.PutRecordInput{DeliveryStreamName: aws.String("direct"), Record: &types.Record{Data: make([]byte, api.MaxRecordSize+1)}})
	if err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Fatalf("oversized record: %v", err)
	}
	_, err = c.CreateDeliveryStream(ctx, &fh.CreateDeliveryStreamInput{DeliveryStreamName: aws.String("new")})
	if !errors.As(err, &ia) {
		t.Fatalf("create: %v", err)
	}
}
