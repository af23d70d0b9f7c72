package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-dev/sluice/internal/harness"
	"github.com/sluice-dev/sluice/samples/clickstream/clicks"
	"github.com/sluice-dev/sluice/sinks/s3/s3test"
)

// TestObjectStoreOutageLosesNothing runs the pipeline against a real
// S3-compatible server (versitygw) with --s3-endpoint, stops the server
// while clicks flow, restarts it, and checks that every acknowledged click
// is in the bucket exactly once (no loss, no duplicate, nothing
// unacknowledged): the delivery stream's write-ahead log holds them while
// the store is down, and retries rewrite the same keys.
func TestObjectStoreOutageLosesNothing(t *testing.T) {
	srv := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CA_BUNDLE", "")

	state := t.TempDir()
	s, err := harness.Start(t.Context(), sluiceBin, nil, "-t", filepath.Join(repoRoot, "template.yaml"),
		"--state-dir", state, "--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0",
		"--max-buffer-interval", "1s", "--parameter-overrides", "AnomalyWindowSeconds=2",
		"--s3-endpoint", srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	// Every bucket, the mappings' failure bucket too, is listed where it
	// lives: in the S3 server, not the state dir.
	for _, b := range []string{"clickstream-archive", "clickstream-failures", "clickstream-shared"} {
		if got, want := s.Endpoints.Buckets[b], strings.TrimSuffix(srv.Endpoint(), "/")+"/"+b; got != want {
			t.Errorf("endpoints list bucket %s at %q, want %q", b, got, want)
		}
	}
	outage := time.Duration(envInt("SLUICE_CHAOS_OUTAGE_SECONDS", 5)) * time.Second
	const rate = 2000
	acked := filepath.Join(t.TempDir(), "acked")
	gen := generate(t, s.Endpoints.Kinesis, rate*int(outage/time.Second+5), acked, "-rate", fmt.Sprint(rate))
	waitLines(t, acked, 1500)
	srv.Stop()
	t.Logf("object store stopped for %s with records flowing", outage)
	// Memory while the backlog grows: sampled over each half of the outage.
	// Undeliverable objects wait in the write-ahead log on disk, so after
	// the retries' working set is in place (first half) memory stays flat
	// while clicks keep arriving (second half). Only a long outage brings
	// enough data to tell a plateau from heap noise (make chaos: 60 s).
	before := rssBytes(t, s.PID())
	var halves [2]int64
	start := time.Now()
	for time.Since(start) < outage {
		time.Sleep(250 * time.Millisecond) // the outage itself, sampling memory; not a synchronisation
		h := min(int(2*time.Since(start)/outage), 1)
		halves[h] = max(halves[h], rssBytes(t, s.PID()))
	}
	// Each click reaches two delivery streams, enriched (~480 B) and
	// scrubbed (~300 B): what RAM would hold if the sink kept its backlog.
	secondHalf := rate * outage.Seconds() / 2 * 750
	t.Logf("sluice RSS %d MiB before the outage, peak %d MiB in its first half and %d MiB in its second; %.0f MiB of records reached the delivery streams in the second half",
		before>>20, halves[0]>>20, halves[1]>>20, secondHalf/(1<<20))
	if outage >= 30*time.Second && float64(halves[1]-halves[0]) > secondHalf {
		t.Errorf("memory grew by %d MiB in the second half of the outage, more than the data that arrived meanwhile: the backlog is held in RAM", (halves[1]-halves[0])>>20)
	}
	srv.Start()
	if err := gen.Wait(); err != nil {
		t.Fatalf("generator: %v\n%s", err, gen.Stderr)
	}
	inStream, err := harness.StreamEventIDs(t.Context(), s.Client(), "clickstream")
	if err != nil {
		t.Fatal(err)
	}
	drain(t, s, state)

	ids, err := harness.ReadLines(acked)
	if err != nil {
		t.Fatal(err)
	}
	// Read through the S3 API, as a consumer of the bucket would: the
	// server's posix root also holds what it keeps beside the objects.
	objs, err := harness.ReadStore(t.Context(), srv.Store(), "clickstream-archive")
	if err != nil {
		t.Fatal(err)
	}
	// Objects that failed during the outage are retried under the same
	// key, so the retries add nothing: 0 lost and 0 duplicates.
	checkExactlyOnce(t, "clickstream-archive", ids, inStream, objs)
}

// TestFirehoseAPIOnTheKinesisPort writes with the Firehose SDK client to the
// delivery stream directly (the address serves both APIs), and finds the
// records in the bucket.
func TestFirehoseAPIOnTheKinesisPort(t *testing.T) {
	state := t.TempDir()
	s := startSluice(t, state, "127.0.0.1:0")
	t.Setenv("AWS_CA_BUNDLE", "")
	fh := firehose.New(firehose.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoints.Kinesis),
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
	gen := clicks.NewGenerator(7)
	var entries []fhtypes.Record
	want := map[string]bool{}
	for range 50 {
		ev := gen.Next()
		data, _ := json.Marshal(ev)
		entries = append(entries, fhtypes.Record{Data: data})
		want[ev.EventID] = true
	}
	out, err := fh.PutRecordBatch(context.Background(), &firehose.PutRecordBatchInput{
		DeliveryStreamName: aws.String("clickstream-archive"), Records: entries,
	})
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v (%+v)", err, out)
	}
	if err := s.Stop(15 * time.Second); err != nil { // shutdown flushes
		t.Fatal(err)
	}
	objs, err := harness.ReadBucket(filepath.Join(state, "buckets", "clickstream-archive"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		for _, rec := range o.Records {
			delete(want, harness.EventID(rec))
		}
	}
	if len(want) > 0 {
		t.Errorf("%d records put through the Firehose API are not in the bucket", len(want))
	}
}

// rssBytes is the resident set size of process pid.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}
