package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/harness"
	"github.com/sluice-dev/sluice/sinks/localdir"
)

// TestOneRecordCannotJamDelivery runs `sluice up` with a delivery stream
// into the local bucket directory and sends it records whose keys that
// directory once refused, forever: a 300-byte partition value, a value that
// makes a key over S3's 1,024 bytes, and a partition whose directory is
// taken by a file (an object the store refuses for good). A file also
// blocks the error output's delivery-failed folder, so the rerouted object
// fails, is retried, and `sluice status` and /metrics must show it; once
// the file is gone it is delivered. Every acknowledged record ends up in
// the bucket exactly once, as data or in the error output.
func TestOneRecordCannotJamDelivery(t *testing.T) {
	state := t.TempDir()
	bucket := filepath.Join(state, "buckets", "jam-out")
	blockData := filepath.Join(bucket, "events", "k=blocked")
	blockErrors := filepath.Join(bucket, "errors", "delivery-failed")
	for _, f := range []string{blockData, blockErrors} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("in the way\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, sluiceBin, nil, "-t", filepath.Join(repoRoot, "e2e", "testdata", "jam.yaml"),
		"--state-dir", state, "--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--max-buffer-interval", "1s")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice log:\n%s", s.Log())
		}
	})

	long := strings.Repeat("x", 300) // a 302-byte key segment
	huge := strings.Repeat("€", 350) // 350 characters, 1,050 bytes: a key over 1,024 bytes
	keys := []string{"a", "a", long, "b", huge, "blocked", long, "blocked", "a", "b", "blocked"}
	var sent []string
	var entries []fhtypes.Record
	for i, k := range keys {
		data := fmt.Sprintf(`{"k":%q,"n":%d}`, k, i)
		sent = append(sent, data)
		entries = append(entries, fhtypes.Record{Data: []byte(data)})
	}
	t.Setenv("AWS_CA_BUNDLE", "")
	fh := firehose.New(firehose.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoints.Kinesis),
		Credentials: credentials.NewStaticCredentialsProvider("k", "s", ""),
	})
	out, err := fh.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String("jam"), Records: entries})
	if err != nil || aws.ToInt32(out.FailedPutCount) != 0 {
		t.Fatalf("PutRecordBatch: %v (%+v)", err, out)
	}

	// The refused object is rerouted; its error output object then fails
	// (the file in the way) and is retried: pending and failing.
	st := jamWaitStatus(t, ctx, state, func(d app.DeliveryStatus) bool { return d.FailingObjects > 0 })
	if st.PendingObjects != 1 || st.RefusedObjects != 1 || !strings.Contains(st.LastError, "not a directory") ||
		!strings.HasPrefix(st.LastErrorKey, "errors/delivery-failed/") || !strings.Contains(st.LastRefusal, "LocalDir.KeyConflict") {
		t.Fatalf("status while failing: %+v", st)
	}
	text := jamStatusText(t, state)
	for _, want := range []string{"jam: 1 object(s) failing, retried; last error (errors/delivery-failed/", "not a directory",
		"jam: 1 object(s) refused by the store", "LocalDir.KeyConflict"} {
		if !strings.Contains(text, want) {
			t.Errorf("`sluice status` lacks %q:\n%s", want, text)
		}
	}
	t.Logf("`sluice status` while an object fails:\n%s", text)
	metrics := jamGet(t, "http://"+strings.TrimPrefix(s.Endpoints.Control, "http://")+"/metrics")
	for _, want := range []string{`sluice_firehose_failing_objects{delivery_stream="jam"} 1`, `sluice_firehose_pending_objects{delivery_stream="jam"} 1`,
		`sluice_firehose_objects_refused_total{code="LocalDir.KeyConflict",delivery_stream="jam"} 1`,
		`sluice_firehose_oldest_pending_object_age_seconds{delivery_stream="jam"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Out of the way: the retry delivers it, and nothing is pending.
	if err := os.Remove(blockErrors); err != nil {
		t.Fatal(err)
	}
	st = jamWaitStatus(t, ctx, state, func(d app.DeliveryStatus) bool { return d.PendingObjects == 0 && d.BufferedRecords == 0 })
	if st.FailingObjects != 0 || st.LastError != "" {
		t.Fatalf("status after recovery: %+v", st)
	}
	if err := s.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(blockData); err != nil {
		t.Fatal(err)
	}

	// Read the bucket back through localdir, by original keys.
	ld, err := localdir.New(filepath.Join(state, "buckets"), filepath.Join(state, "tmp"), filepath.Join(state, "objects-meta"))
	if err != nil {
		t.Fatal(err)
	}
	objKeys, err := ld.List(ctx, "jam-out", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	types := map[string]int{}
	longFound := false
	for _, k := range objKeys {
		body, _, err := ld.Get(ctx, "jam-out", k)
		if err != nil {
			t.Fatal(err)
		}
		longFound = longFound || strings.HasPrefix(k, "events/k="+long+"/")
		for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			if !strings.HasPrefix(k, "errors/") {
				got = append(got, line)
				continue
			}
			var env struct {
				ErrorCode string `json:"errorCode"`
				RawData   []byte `json:"rawData"`
			}
			if err := json.Unmarshal([]byte(line), &env); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			types[strings.Split(k, "/")[1]+" "+env.ErrorCode]++
			got = append(got, string(env.RawData))
		}
	}
	if !longFound {
		t.Errorf("no object under the 300-byte partition value; keys: %q", objKeys)
	}
	wantTypes := map[string]int{"prefixEvaluationFailed DynamicPartitioning.PrefixEvaluationFailed": 1, "delivery-failed LocalDir.KeyConflict": 3}
	if fmt.Sprint(types) != fmt.Sprint(wantTypes) {
		t.Errorf("error output by type and code = %v, want %v", types, wantTypes)
	}
	slices.Sort(got)
	slices.Sort(sent)
	if !slices.Equal(got, sent) {
		t.Fatalf("records acknowledged: %d; in the bucket (data + error output): %d; want each once\n got: %q", len(sent), len(got), got)
	}
}

// jamWaitStatus polls `sluice status --json` until the jam delivery stream's
// status satisfies ok.
func jamWaitStatus(t *testing.T, ctx context.Context, state string, ok func(app.DeliveryStatus) bool) app.DeliveryStatus {
	t.Helper()
	var last app.DeliveryStatus
	for {
		var st app.Status
		if err := json.Unmarshal([]byte(jamRunStatus(t, state, "--json")), &st); err != nil {
			t.Fatal(err)
		}
		for _, d := range st.DeliveryStreams {
			if d.Name == "jam" {
				if last = d; ok(d) {
					return d
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("delivery stream status never reached the expected state; last: %+v", last)
		case <-time.After(200 * time.Millisecond): // polling a separate process: no event to wait on
		}
	}
}

func jamStatusText(t *testing.T, state string) string { return jamRunStatus(t, state) }

func jamRunStatus(t *testing.T, state string, args ...string) string {
	t.Helper()
	cmd := exec.Command(sluiceBin, append([]string{"status", "--state-dir", state}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sluice status: %v\n%s", err, stderr.String())
	}
	return string(out)
}

func jamGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
