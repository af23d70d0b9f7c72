package e2e

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-dev/sluice/internal/harness"
)

// TestDeaggregationSplitsRecordsBeforePartitioning runs a stream delivered
// to S3 with no function (DeliveryStreamType KinesisStreamAsSource) whose
// RecordDeAggregation processor splits "####"-delimited records; each
// sub-record is partitioned by its own key.
func TestDeaggregationSplitsRecordsBeforePartitioning(t *testing.T) {
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, sluiceBin, nil, "-t", filepath.Join(repoRoot, "template", "testdata", "deaggregation.yaml"),
		"--state-dir", state, "--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--max-buffer-interval", "1s")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	c := s.Client()
	for _, data := range []string{
		`{"device":"a","n":1}####{"device":"b","n":2}####{"device":"a","n":3}`,
		`{"device":"c","n":4}`,
	} {
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{
			StreamName: aws.String("devices"), PartitionKey: aws.String("k"), Data: []byte(data),
		}); err != nil {
			t.Fatal(err)
		}
	}
	last, err := harness.LastSequenceNumbers(ctx, c, "devices")
	if err != nil {
		t.Fatal(err)
	}
	if err := harness.WaitCheckpointsIn(ctx, filepath.Join(state, "checkpoints-firehose"), last); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	objs, err := harness.ReadBucket(filepath.Join(state, "buckets", "devices-archive"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		dir := o.Key[:strings.LastIndexByte(o.Key, '/')]
		for _, r := range o.Records {
			got = append(got, dir+" "+string(r))
		}
	}
	sort.Strings(got)
	want := []string{
		`readings/device=a {"device":"a","n":1}`,
		`readings/device=a {"device":"a","n":3}`,
		`readings/device=b {"device":"b","n":2}`,
		`readings/device=c {"device":"c","n":4}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("delivered:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
