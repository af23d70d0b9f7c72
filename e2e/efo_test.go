package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/harness"
)

// TestTemplateStreamAndEnhancedFanOut runs e2e/testdata/efo.yaml: the
// stream is created as the template writes it (ON_DEMAND, 72 hours'
// retention: both were once dropped), its AWS::Kinesis::StreamConsumer is
// registered with an ARN that survives a restart, and the function whose
// event source is that consumer's ARN receives every record put after
// `ready` through SubscribeToShard, before and after the restart.
func TestTemplateStreamAndEnhancedFanOut(t *testing.T) {
	state := t.TempDir()
	tmpl := filepath.Join(repoRoot, "e2e", "testdata", "efo.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := func() *harness.Sluice {
		s, err := harness.Start(ctx, sluiceBin, nil, "-t", tmpl, "--state-dir", state,
			"--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--max-buffer-interval", "1s")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	put := func(s *harness.Sluice, from, n int) {
		t.Helper()
		var entries []types.PutRecordsRequestEntry
		for i := from; i < from+n; i++ {
			entries = append(entries, types.PutRecordsRequestEntry{
				Data: fmt.Appendf(nil, `{"id":%d}`, i), PartitionKey: aws.String(fmt.Sprintf("sensor-%d", i%13)),
			})
		}
		out, err := s.Client().PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("readings"), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("put: %v (%v)", err, out)
		}
	}
	drain := func(s *harness.Sluice) {
		t.Helper()
		last, err := harness.LastSequenceNumbers(ctx, s.Client(), "readings")
		if err != nil {
			t.Fatal(err)
		}
		if err := harness.WaitCheckpointed(ctx, state, last); err != nil {
			t.Fatalf("%v\n%s", err, s.Log())
		}
	}

	s := start()
	defer func() { s.Kill() }()
	sum, err := s.Client().DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("readings")})
	if err != nil {
		t.Fatal(err)
	}
	d := sum.StreamDescriptionSummary
	if d.StreamModeDetails == nil || d.StreamModeDetails.StreamMode != types.StreamModeOnDemand {
		t.Errorf("stream mode %+v, want ON_DEMAND as the template says", d.StreamModeDetails)
	}
	if aws.ToInt32(d.RetentionPeriodHours) != 72 {
		t.Errorf("retention %d hours, want the template's 72", aws.ToInt32(d.RetentionPeriodHours))
	}
	if aws.ToInt32(d.ConsumerCount) != 1 {
		t.Errorf("%d consumers, want the template's one", aws.ToInt32(d.ConsumerCount))
	}
	consumerARN := func(s *harness.Sluice) string {
		t.Helper()
		out, err := s.Client().ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: d.StreamARN})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Consumers) != 1 || aws.ToString(out.Consumers[0].ConsumerName) != "fanout" {
			t.Fatalf("consumers %+v, want fanout alone", out.Consumers)
		}
		return aws.ToString(out.Consumers[0].ConsumerARN)
	}
	arn := consumerARN(s)

	// The mapping is at LATEST: every record put after ready is delivered.
	put(s, 0, 200)
	drain(s)

	// The status and the hot-shard report find the instance by its state
	// directory, like every command that talks to `sluice up`.
	code, out, errOut := sluiceCmd(t, "status", "--json", "--state-dir", state)
	if code != 0 {
		t.Fatalf("sluice status: exit %d: %s", code, errOut)
	}
	var st app.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Streams) != 1 || st.Streams[0].Mode != "ON_DEMAND" || st.Streams[0].RetentionHours != 72 {
		t.Errorf("sluice status streams: %+v", st.Streams)
	}
	code, out, errOut = sluiceCmd(t, "streams", "hot", "readings", "--state-dir", state)
	if code != 0 || !strings.Contains(out, "shardId-") {
		t.Errorf("sluice streams hot --state-dir: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	if err := s.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	s = start()
	if again := consumerARN(s); again != arn {
		t.Errorf("consumer ARN after a restart %s, want the same %s", again, arn)
	}
	put(s, 200, 100)
	drain(s)
	if err := s.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}

	objs, err := harness.ReadBucket(filepath.Join(state, "buckets", "efo-out"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, o := range objs {
		for _, r := range o.Records {
			seen[string(r)]++
		}
	}
	for i := range 300 {
		if n := seen[fmt.Sprintf(`{"id":%d}`, i)]; n != 1 {
			t.Errorf("record %d delivered %d times, want once", i, n)
		}
	}
	if len(seen) != 300 {
		t.Errorf("%d distinct records delivered, want 300", len(seen))
	}
}
