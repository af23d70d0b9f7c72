package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-dev/sluice/internal/harness"
)

// TestPoisonRecordIsIsolatedAndRedriven puts one malformed click among good
// ones. Enrich (and Scrub) fail on it; each mapping bisects, retries it twice
// and sets it aside in the failure bucket with its payload, while every good
// click is delivered. Then, while `sluice up` keeps running, `sluice redrive`
// goes through its control API: before the fix the record fails again and
// nothing is delivered; with the fix edited but not deployed the redrive
// refuses (it replays through the running version); after `sluice deploy`
// it delivers the repaired click to the archive, and a second redrive skips
// it. The archive holds it exactly once.
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
	// The poison record must not block its shard: every record gets
	// checkpointed, its failure record written before.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	last, err := harness.LastSequenceNumbers(ctx, s.Client(), "clickstream")
	if err != nil {
		t.Fatal(err)
	}
	if err := harness.WaitCheckpointed(ctx, state, last); err != nil {
		t.Fatal(err)
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

	redrive := func(wantCode int, wantOut ...string) string {
		t.Helper()
		code, out, stderr := sluiceCmd(t, "redrive", "Enrich", "-t", tmpl, "--state-dir", state)
		t.Logf("redrive: exit %d\n%s%s", code, out, stderr)
		if code != wantCode {
			t.Fatalf("redrive: exit %d, want %d\n%s\n%s", code, wantCode, out, stderr)
		}
		for _, w := range wantOut {
			if !strings.Contains(out+stderr, w) {
				t.Fatalf("redrive output lacks %q:\n%s\n%s", w, out, stderr)
			}
		}
		return out
	}
	// Unfixed: it fails again, through the running instance; nothing is
	// delivered or marked.
	redrive(1, "(through sluice up)", "FAILED", "0 delivered", "1 failed again (1 records)")

	// Fix Enrich to file malformed clicks as such instead of failing.
	edit(t, filepath.Join(dir, "functions", "enrich", "enrich.go"), "buf, err = appendEnriched(buf, r.Kinesis.Data)",
		"data := r.Kinesis.Data\n\t\tif _, perr := jsonobj.Parse(data); perr != nil { // the fix: keep malformed clicks, marked as such\n"+
			"\t\t\tdata = []byte(`{\"event_id\":\"quarantined-` + r.Kinesis.SequenceNumber + `\",\"event_type\":\"malformed\",\"timestamp\":\"2026-11-26T10:00:00.000Z\"}`)\n"+
			"\t\t}\n\t\tbuf, err = appendEnriched(buf, data)")
	redrive(1, "differs from the version sluice up runs", "sluice deploy")
	if code, out, stderr := sluiceCmd(t, "deploy", "--no-confirm", "-t", tmpl, "--state-dir", state); code != 0 {
		t.Fatalf("deploy of the fix: exit %d\n%s\n%s", code, out, stderr)
	}
	redrive(0, "(through sluice up)", "1 delivered to clickstream-archive (1 output records)")
	redrive(0, "0 delivered", "1 already redriven")

	if err := s.Stop(15 * time.Second); err != nil { // flushes the archive
		t.Fatal(err)
	}
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
	var repaired []string
	for id, n := range seen {
		if strings.HasPrefix(id, "quarantined-") {
			repaired = append(repaired, fmt.Sprintf("%s×%d", id, n))
		}
	}
	if len(repaired) != 1 || !strings.HasSuffix(repaired[0], "×1") {
		t.Fatalf("the redriven click should be in the archive exactly once, found %v", repaired)
	}
}

func joinLines(recs [][]byte) []byte {
	var b []byte
	for _, r := range recs {
		b = append(b, r...)
		b = append(b, '\n')
	}
	return b
}
