package s3_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/sinks/firehose"
	"github.com/sluice-dev/sluice/sinks/s3"
	"github.com/sluice-dev/sluice/sinks/s3/s3test"
)

// These tests run a delivery stream into a real S3-compatible server
// (versitygw) and read the bucket back through the S3 API.

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t *testing.T, cfg firehose.Config, st *s3.Store, dir string) *firehose.DeliveryStream {
	t.Helper()
	d, err := firehose.Open(cfg, firehose.Options{StateDir: dir, Destination: st, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// bucketLines reads every object under prefix, un-gzips it and returns its
// lines by key.
func bucketLines(t *testing.T, st *s3.Store, bucket, prefix string) map[string][]string {
	t.Helper()
	keys, err := st.List(context.Background(), bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, k := range keys {
		b, m, err := st.Get(context.Background(), bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(k, ".gz") {
			if m.ContentEncoding != "gzip" {
				t.Errorf("%s: Content-Encoding %q, want gzip", k, m.ContentEncoding)
			}
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
		}
		if m.FlushReason == "" || m.ContentType != "application/octet-stream" {
			t.Errorf("%s: metadata %+v lacks a flush reason or content type", k, m)
		}
		out[k] = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	return out
}

func TestPartitionedDeliveryWithErrorPrefix(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	srv := s3test.Start(t)
	st := srv.Store("archive")
	cfg := firehose.Config{
		Name: "clicks", Bucket: "archive",
		Prefix:                  "events/type=!{partitionKeyFromQuery:t}/!{timestamp:yyyy/MM/dd/HH}/",
		ErrorOutputPrefix:       "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/",
		BufferSize:              64 * firehose.MiB,
		BufferInterval:          60 * time.Second,
		DynamicPartitioning:     true,
		MetadataExtractionQuery: "{t:.type}",
		AppendDelimiter:         true,
		Compression:             firehose.CompressionGZIP,
	}
	d := open(t, cfg, st, t.TempDir())
	at := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	var recs []handover.Record
	want := map[string]string{} // record -> type
	for i := range 300 {
		typ := []string{"click", "view", "purchase"}[i%3]
		r := fmt.Sprintf(`{"type":%q,"i":%d}`, typ, i)
		recs = append(recs, handover.Record{Data: []byte(r), ArrivalTime: at})
		want[r] = typ
	}
	bad := []string{"not json", `{"no_type":1}`}
	for _, b := range bad {
		recs = append(recs, handover.Record{Data: []byte(b), ArrivalTime: at})
	}
	if err := d.Accept(context.Background(), handover.Batch{Source: handover.Source{ID: "s", Checkpoint: "1"}, Records: recs}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := bucketLines(t, st, "archive", "events/")
	seen := map[string]int{}
	for k, lines := range got {
		for _, l := range lines {
			seen[l]++
			if typ := want[l]; !strings.HasPrefix(k, "events/type="+typ+"/2026/11/26/01/clicks-1-2026-11-26-01-02-03-") || !strings.HasSuffix(k, ".gz") {
				t.Errorf("record %s (type %s) in object %s", l, typ, k)
			}
		}
	}
	for r := range want {
		if seen[r] != 1 {
			t.Errorf("record %s delivered %d times", r, seen[r])
		}
	}
	if len(got) != 3 {
		t.Errorf("%d data objects, want one per type: %v", len(got), keysOf(got))
	}
	errs := bucketLines(t, st, "archive", "errors/")
	var raw []string
	for k, lines := range errs {
		if !strings.HasPrefix(k, "errors/") || !strings.Contains(k, "/2026/11/26/clicks-1-") {
			t.Errorf("error object key %s", k)
		}
		for _, l := range lines {
			var env struct {
				ErrorCode string `json:"errorCode"`
				RawData   []byte `json:"rawData"`
			}
			if err := json.Unmarshal([]byte(l), &env); err != nil {
				t.Fatalf("%s: envelope %q: %v", k, l, err)
			}
			if env.ErrorCode == "" {
				t.Errorf("%s: envelope without errorCode: %s", k, l)
			}
			raw = append(raw, string(env.RawData))
		}
	}
	if strings.Join(sortStrings(raw), "|") != strings.Join(sortStrings(bad), "|") {
		t.Errorf("error output holds %q, want %q", raw, bad)
	}
}

func TestMultipartObject(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	srv := s3test.Start(t)
	st := srv.Store("big")
	cfg := firehose.Config{Name: "big", Bucket: "big", Prefix: "raw/", BufferSize: 20 * firehose.MiB,
		BufferInterval: 300 * time.Second, AppendDelimiter: true}
	d := open(t, cfg, st, t.TempDir())
	at := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	pad := strings.Repeat("x", 1000)
	const n = 12000 // ~12 MiB: two parts of 8 MiB
	for b := range n / 500 {
		var recs []handover.Record
		for i := range 500 {
			recs = append(recs, handover.Record{Data: fmt.Appendf(nil, `{"i":%d,"pad":%q}`, b*500+i, pad), ArrivalTime: at})
		}
		if err := d.Accept(context.Background(), handover.Batch{Source: handover.Source{ID: "s"}, Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := bucketLines(t, st, "big", "raw")
	if len(got) != 1 {
		t.Fatalf("objects: %v", keysOf(got))
	}
	for k, lines := range got {
		if len(lines) != n {
			t.Fatalf("%s holds %d records, want %d", k, len(lines), n)
		}
		if !strings.HasPrefix(k, "raw/2026/11/26/01/big-1-") {
			t.Errorf("key %s", k)
		}
		head, err := st.Client().HeadObject(context.Background(), &awss3.HeadObjectInput{Bucket: aws.String("big"), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		// A multipart object's ETag is "<md5 of part md5s>-<parts>".
		if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-2") {
			t.Errorf("ETag %s: not a two-part upload", etag)
		}
	}
}

// TestOutage stops the server mid-stream for SLUICE_S3_OUTAGE (default
// 10 s), keeps accepting records meanwhile, restarts it on the same port
// and checks that every record arrived exactly once.
func TestOutage(t *testing.T) {
	t.Setenv("AWS_CA_BUNDLE", "")
	outage := 10 * time.Second
	if v := os.Getenv("SLUICE_S3_OUTAGE"); v != "" {
		var err error
		if outage, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	srv := s3test.Start(t)
	st := srv.Store("out")
	cfg := firehose.Config{Name: "out", Bucket: "out", Prefix: "o/", BufferSize: 1 * firehose.MiB,
		BufferInterval: 300 * time.Second, AppendDelimiter: true, Compression: firehose.CompressionGZIP}
	d := open(t, cfg, st, t.TempDir())

	var (
		mu       sync.Mutex
		accepted []string
	)
	feed := func(from, to int) {
		pad := strings.Repeat("p", 200)
		for b := from; b < to; b += 100 {
			var recs []handover.Record
			var lines []string
			for i := b; i < min(b+100, to); i++ {
				l := fmt.Sprintf(`{"i":%d,"pad":%q}`, i, pad)
				recs = append(recs, handover.Record{Data: []byte(l), ArrivalTime: time.Now()})
				lines = append(lines, l)
			}
			if err := d.Accept(context.Background(), handover.Batch{Source: handover.Source{ID: "s", Checkpoint: fmt.Sprint(b)}, Records: recs}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			accepted = append(accepted, lines...)
			mu.Unlock()
		}
	}
	feed(0, 10000) // ~2 MiB: objects on their way while the server goes
	srv.Stop()
	feed(10000, 30000) // size flushes fail and wait for their retry
	stopped := time.Now()
	// Writes against the dead server fail; nothing to wait for but time.
	time.Sleep(time.Until(stopped.Add(outage)))
	srv.Start()
	feed(30000, 40000)
	// Flush runs every pending object once in this goroutine, whatever its
	// back-off; repeat until the restarted server took them all.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := d.Flush(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("objects still failing 2 minutes after the restart: %v", err)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, lines := range bucketLines(t, st, "out", "o/") {
		for _, l := range lines {
			seen[l]++
		}
	}
	for _, r := range accepted {
		if seen[r] != 1 {
			t.Errorf("record %.20s… delivered %d times", r, seen[r])
		}
		delete(seen, r)
	}
	if len(seen) != 0 {
		t.Errorf("%d unexpected records in the bucket", len(seen))
	}
	if len(accepted) != 40000 {
		t.Errorf("accepted %d records, want 40000", len(accepted))
	}
}

func keysOf[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return sortStrings(ks)
}

func sortStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
