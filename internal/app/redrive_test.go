package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/sinks/dest"
	"github.com/sluice-dev/sluice/sinks/localdir"
	"github.com/sluice-dev/sluice/sinks/s3/s3test"
	"github.com/sluice-dev/sluice/template"
	kinesistrigger "github.com/sluice-dev/sluice/triggers/kinesis"
)

// redriveTemplate: one function whose mapping sets failures aside in the
// bucket "failures" and whose output goes to the delivery stream "archive"
// (JSON, no delimiter). Its code is never built: the tests load a Go
// handler in its place.
const redriveTemplate = `Transform: AWS::Serverless-2016-10-31
Resources:
  Events:
    Type: AWS::Kinesis::Stream
    Properties: {Name: events, ShardCount: 1}
  Failures:
    Type: AWS::S3::Bucket
    Properties: {BucketName: failures}
  Archive:
    Type: AWS::S3::Bucket
    Properties: {BucketName: archive}
  ArchiveStream:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: archive
      DeliveryStreamType: DirectPut
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Archive.Arn
        RoleARN: arn:aws:iam::000000000000:role/unused
        Prefix: out/
        BufferingHints: {SizeInMBs: 1, IntervalInSeconds: 60}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./fn
      Handler: bootstrap
      Runtime: provided.al2023
      Environment:
        Variables:
          DELIVERY_STREAM: !Ref ArchiveStream
      Events:
        Read:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Events.Arn
            StartingPosition: TRIM_HORIZON
            DestinationConfig:
              OnFailure: {Type: S3, Destination: !GetAtt Failures.Arn}
`

// Environment of the crash helper process.
const (
	helperEnv      = "SLUICE_TEST_REDRIVE_CRASH"
	helperStateEnv = "SLUICE_TEST_REDRIVE_STATE"
	helperTmplEnv  = "SLUICE_TEST_REDRIVE_TEMPLATE"
	helperS3Env    = "SLUICE_TEST_REDRIVE_S3"
)

// TestRedriveDirectExactlyOnceAcrossCrash runs `sluice redrive` directly on
// a state dir (no `sluice up`), on the local bucket directory and on a real
// S3-compatible server. A child process redrives three failure records and
// is SIGKILLed right after the second one's output was accepted by the
// delivery stream's write-ahead log, before its marker: nothing was flushed
// into objects and the lock died with it. The rerun must finish the job
// with each output record in the archive exactly once: the first record
// skipped (marked), the second completed without a new invocation (its
// checkpoint is in the log), the third delivered; the log the crash left
// is flushed too. A third run skips all three; --again delivers them once
// more.
func TestRedriveDirectExactlyOnceAcrossCrash(t *testing.T) {
	for _, backend := range []string{"localdir", "s3"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			state, tmpl := t.TempDir(), writeRedriveTemplate(t)
			var store readWriteStore
			s3Endpoint := ""
			if backend == "s3" {
				srv := s3test.Start(t)
				t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
				t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
				t.Setenv("AWS_REGION", "us-east-1")
				t.Setenv("AWS_CA_BUNDLE", "")
				store, s3Endpoint = srv.Store("failures", "archive"), srv.Endpoint()
			} else {
				d, err := localdir.New(filepath.Join(state, "buckets"), filepath.Join(state, "tmp"), filepath.Join(state, "objects-meta"))
				if err != nil {
					t.Fatal(err)
				}
				store = d
			}
			mapping := redriveMappingID(t, tmpl)
			at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
			for i := range 3 {
				putFailureRecord(t, store, mapping, at.Add(time.Duration(i)*time.Second), fmt.Sprintf("r%d-a", i), fmt.Sprintf("r%d-b", i))
			}

			child := exec.Command(os.Args[0], "-test.run=^TestRedriveCrashHelper$", "-test.v")
			child.Env = append(os.Environ(), helperEnv+"=1", helperStateEnv+"="+state, helperTmplEnv+"="+tmpl, helperS3Env+"="+s3Endpoint)
			out, err := child.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the helper was to kill itself after the second acceptance; it ended with %v:\n%s", err, out)
			}
			if ids := archiveIDs(t, store); len(ids) != 0 {
				t.Fatalf("objects in the archive before the rerun flushed anything: %v", ids)
			}

			cfg := Config{Template: tmpl, StateDir: state, S3Endpoint: s3Endpoint, Stdout: io.Discard, Stderr: io.Discard}
			var lines []RedriveLine
			opts := RedriveOptions{load: testFunction, ProgressEvery: 1, Emit: func(l RedriveLine) { lines = append(lines, l) }}
			req := RedriveRequest{Template: tmpl, Function: "Fn"}
			if err := RedriveDirect(ctx, cfg, req, opts); err != nil {
				t.Fatal(err)
			}
			sum := summaryOf(t, lines)
			if sum.Skipped != 1 || sum.Recovered != 1 || sum.Delivered != 1 || sum.Failed != 0 || sum.Total != 3 || sum.Records != 4 || sum.Output != 2 || sum.DeliveryStream != "archive" {
				t.Fatalf("rerun summary: %+v", sum)
			}
			var progress []string
			for _, l := range lines {
				if l.Progress != nil {
					progress = append(progress, l.Progress.String())
				}
			}
			want := []string{
				"redrive Fn: 1/3 failure records, 0 records (0 failed again)", // skipped unread: its records are not counted
				"redrive Fn: 2/3 failure records, 2 records (0 failed again)",
				"redrive Fn: 3/3 failure records, 4 records (0 failed again)",
			}
			if strings.Join(progress, "\n") != strings.Join(want, "\n") {
				t.Errorf("progress lines:\n%s\nwant:\n%s", strings.Join(progress, "\n"), strings.Join(want, "\n"))
			}
			assertEachOnce(t, store, 1)

			lines = nil
			if err := RedriveDirect(ctx, cfg, req, opts); err != nil {
				t.Fatal(err)
			}
			if sum := summaryOf(t, lines); sum.Skipped != 3 || sum.Delivered != 0 {
				t.Fatalf("second redrive: %+v", sum)
			}
			lines, req.Again = nil, true
			if err := RedriveDirect(ctx, cfg, req, opts); err != nil {
				t.Fatal(err)
			}
			if sum := summaryOf(t, lines); sum.Delivered != 3 || sum.Output != 6 {
				t.Fatalf("--again: %+v", sum)
			}
			assertEachOnce(t, store, 2)
		})
	}
}

// TestRedriveCrashHelper is the child of TestRedriveDirectExactlyOnceAcrossCrash:
// it redrives with a hook that SIGKILLs the process after the second
// failure record's output is accepted, before its marker is written.
func TestRedriveCrashHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		return // a child-process mode, run by TestRedriveDirectExactlyOnceAcrossCrash; not a skipped test
	}
	n := 0
	opts := RedriveOptions{load: testFunction, afterAccept: func(string) error {
		if n++; n == 2 {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
		return nil
	}}
	tmpl := os.Getenv(helperTmplEnv)
	cfg := Config{Template: tmpl, StateDir: os.Getenv(helperStateEnv), S3Endpoint: os.Getenv(helperS3Env), Stdout: io.Discard, Stderr: os.Stderr}
	err := RedriveDirect(context.Background(), cfg, RedriveRequest{Template: tmpl, Function: "Fn"}, opts)
	t.Fatalf("the redrive returned instead of being killed: %v", err)
}

// TestRedriveDirectRefusesALockedStateDir: while something holds the state
// dir (a running `sluice up`), the direct redrive says so, and the CLI goes
// through the control API instead.
func TestRedriveDirectRefusesALockedStateDir(t *testing.T) {
	state, tmpl := t.TempDir(), writeRedriveTemplate(t)
	lock, err := lockStateDir(state)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.release()
	err = RedriveDirect(context.Background(), Config{Template: tmpl, StateDir: state, Stdout: io.Discard, Stderr: io.Discard},
		RedriveRequest{Template: tmpl, Function: "Fn"}, RedriveOptions{load: testFunction})
	if !errors.Is(err, ErrUpRunning) {
		t.Fatalf("got %v, want ErrUpRunning", err)
	}
}

func TestRedriveSummaryLine(t *testing.T) {
	p := RedriveProgress{Function: "Enrich", Via: "through sluice up", DeliveryStream: "clickstream-archive", Done: 500, Total: 500,
		Records: 2400, FailedAgain: 3, Delivered: 480, Recovered: 2, Skipped: 17, Failed: 1, Output: 2350}
	want := "redrive Enrich (through sluice up): 500 failure records, 2400 records: 480 delivered to clickstream-archive (2350 output records), 2 completed after an interrupted redrive, 17 already redriven (--again replays them), 1 failed again (3 records)"
	if got := p.SummaryLine(); got != want {
		t.Errorf("summary:\n%s\nwant\n%s", got, want)
	}
	if got := (RedriveProgress{Function: "Enrich"}).SummaryLine(); got != "redrive Enrich: no failure records" {
		t.Errorf("empty summary: %s", got)
	}
}

func writeRedriveTemplate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "fn"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fn", "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(path, []byte(redriveTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func redriveMappingID(t *testing.T, tmpl string) string {
	t.Helper()
	plan, err := template.ParseFile(tmpl, template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fn, err := FindFunction(plan, "Fn")
	if err != nil {
		t.Fatal(err)
	}
	return MappingID(fn, fn.Events[0])
}

// testFunction stands in for the built function: {"id": data} per record.
func testFunction(context.Context, *template.Plan, template.Function) (runtime.Invoker, error) {
	return runtime.New(runtime.Config{Name: "Fn", Timeout: 10 * time.Second}, func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
		var resp sdk.StreamResponse
		for _, r := range e.Records {
			data, _ := json.Marshal(map[string]string{"id": string(r.Kinesis.Data)})
			resp.Records = append(resp.Records, sdk.OutputRecord{Data: data})
		}
		return resp, nil
	})
}

func putFailureRecord(t *testing.T, store dest.Destination, mappingID string, at time.Time, data ...string) {
	t.Helper()
	ev := events.KinesisEvent{}
	for i, d := range data {
		ev.Records = append(ev.Records, events.KinesisEventRecord{EventSource: "aws:kinesis", Kinesis: events.KinesisRecord{
			Data: []byte(d), PartitionKey: "pk", SequenceNumber: fmt.Sprintf("4960%d%03d", at.Unix(), i),
			ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: at},
		}})
	}
	body, _ := json.Marshal(kinesistrigger.FailureRecord{Version: "1.0", Timestamp: at.Format("2006-01-02T15:04:05.000Z"),
		KinesisBatchInfo: kinesistrigger.KinesisBatchInfo{ShardID: "shardId-000000000000", BatchSize: len(data)}, Payload: &ev})
	key := kinesistrigger.FailureKey(mappingID, "shardId-000000000000", at, uuid.NewString())
	if err := store.Put(context.Background(), "failures", key, bytes.NewReader(body), dest.ObjectMeta{ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
}

func summaryOf(t *testing.T, lines []RedriveLine) RedriveProgress {
	t.Helper()
	if len(lines) == 0 || lines[len(lines)-1].Summary == nil {
		t.Fatalf("no summary line last: %+v", lines)
	}
	return *lines[len(lines)-1].Summary
}

// archiveIDs counts the ids in the archive bucket's objects (JSON
// documents back to back: the delivery stream adds no delimiter).
func archiveIDs(t *testing.T, store readWriteStore) map[string]int {
	t.Helper()
	ctx := context.Background()
	keys, err := store.List(ctx, "archive", "")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, k := range keys {
		body, _, err := store.Get(ctx, "archive", k)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		for dec.More() {
			var v struct{ ID string }
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("archive object %s: %v", k, err)
			}
			ids[v.ID]++
		}
	}
	return ids
}

func assertEachOnce(t *testing.T, store readWriteStore, n int) {
	t.Helper()
	ids := archiveIDs(t, store)
	for i := range 3 {
		for _, s := range []string{"a", "b"} {
			id := fmt.Sprintf("r%d-%s", i, s)
			if ids[id] != n {
				t.Errorf("%s is in the archive %d times, want %d", id, ids[id], n)
			}
			delete(ids, id)
		}
	}
	if len(ids) > 0 {
		t.Errorf("unexpected records in the archive: %v", ids)
	}
}

// TestRedriveDirectWithoutFailures: with nothing to replay, a redrive
// builds nothing and opens no delivery stream, and says where it looked
// when the failure bucket's directory does not exist (an up that wrote to
// S3, redriven without --s3-endpoint).
func TestRedriveDirectWithoutFailures(t *testing.T) {
	state, tmpl := t.TempDir(), writeRedriveTemplate(t)
	var stderr strings.Builder
	var lines []RedriveLine
	err := RedriveDirect(context.Background(), Config{Template: tmpl, StateDir: state, Stdout: io.Discard, Stderr: &stderr},
		RedriveRequest{Template: tmpl, Function: "Fn"}, RedriveOptions{
			load: func(context.Context, *template.Plan, template.Function) (runtime.Invoker, error) {
				t.Error("built a function with nothing to replay")
				return nil, errors.New("unexpected build")
			},
			Emit: func(l RedriveLine) { lines = append(lines, l) },
		})
	if err != nil {
		t.Fatal(err)
	}
	if got := summaryOf(t, lines).SummaryLine(); got != "redrive Fn: no failure records" {
		t.Errorf("summary: %s", got)
	}
	if !strings.Contains(stderr.String(), "--s3-endpoint") {
		t.Errorf("no hint about --s3-endpoint: %q", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(state, "delivery")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the delivery stream's state was opened: %v", err)
	}
}

// readWriteStore is an object store the tests write failure records to and
// read delivered objects from.
type readWriteStore interface {
	dest.Destination
	dest.Reader
}
