package e2e

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-dev/sluice/internal/harness"
)

// TestPoisonRecordIsIsolatedAndRedriven puts one malformed click among good
// ones. Enrich (and Scrub) fail on it; each mapping bisects, retries it twice and sets it
// aside in the failure bucket with its payload, while every good click is
// delivered. After a fix, `sluice redrive` replays it through the new
// version.
func TestPoisonRecordIsIsolatedAndRedriven(t *testing.T) {
	dir := workdir(t)
	tmpl := filepath.Join(dir, "template.yaml")
	state := t.TempDir()
	s, err := harness.Start(t.Context(), sluiceBin, nil, "-t", tmpl, "--state-dir", state,
		"--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--max-buffer-interval", "1s",
		"--parameter-overrides", "AnomalyWindowSeconds=2")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	acked := filepath.Join(t.TempDir(), "acked")
	gen := generate(t, s.Endpoints.Kinesis, 3000, acked, "-rate", "1500")
	poison := []byte(`{"event_id":"poison-1","event_type":"click",`) // cut off
	if _, err := s.Client().PutRecord(context.Background(), &kinesis.PutRecordInput{
		StreamName: aws.String("clickstream"), PartitionKey: aws.String("poison-session"), Data: poison,
	}); err != nil {
		t.Fatal(err)
	}
	if err := gen.Wait(); err != nil {
		t.Fatalf("generator: %v\n%s", err, gen.Stderr)
	}
	drain(t, s, state) // the poison record must not block its shard

	ids, _ := harness.ReadLines(acked)
	seen, err := harness.Delivered(filepath.Join(state, "buckets", "clickstream-archive"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if seen[id] == 0 {
			t.Fatalf("good click %s did not reach the archive", id)
		}
	}
	failures, err := harness.ReadBucket(filepath.Join(state, "buckets", "clickstream-failures"))
	if err != nil {
		t.Fatal(err)
	}
	var records []string
	for _, o := range failures {
		records = append(records, string(joinLines(o.Records)))
	}
	// Enrich and Scrub both fail on it: one failure record per mapping.
	if len(records) != 2 {
		t.Fatalf("want one failure record per failing function (2), got %d: %v", len(records), records)
	}
	for _, r := range records {
		if !strings.Contains(r, base64.StdEncoding.EncodeToString(poison)) {
			t.Fatalf("failure record without the poison payload: %s", r)
		}
	}

	// Fix Enrich to skip malformed clicks, then redrive the failure.
	edit(t, filepath.Join(dir, "functions", "enrich", "enrich.go"), "buf, err = appendEnriched(buf, r.Kinesis.Data)",
		"if fastjson.ValidateBytes(r.Kinesis.Data) != nil {\n\t\t\tcontinue // the fix: skip malformed clicks\n\t\t}\n\t\tbuf, err = appendEnriched(buf, r.Kinesis.Data)")
	code, out, stderr := sluiceCmd(t, "redrive", "Enrich", "-t", tmpl, "--state-dir", state)
	if code != 0 {
		t.Fatalf("redrive after the fix: exit %d\n%s\n%s", code, out, stderr)
	}
	t.Logf("redrive: %s", strings.TrimSpace(out))
}

func joinLines(recs [][]byte) []byte {
	var b []byte
	for _, r := range recs {
		b = append(b, r...)
		b = append(b, '\n')
	}
	return b
}
