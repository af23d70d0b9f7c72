package firehose

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/sinks/localdir"
)

// goldenObjects renders a bucket as "== key (meta)\n<body>" blocks.
func goldenObjects(t *testing.T, m *memDest) string {
	var b strings.Builder
	for _, k := range m.keys() {
		meta := m.meta[k]
		fmt.Fprintf(&b, "== %s (reason=%s records=%d encoding=%q type=%s)\n%s", k, meta.FlushReason, meta.Records,
			meta.ContentEncoding, meta.ContentType, m.body(t, k))
		if !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// clickRecords is the sample input of the object golden tests: JSON click
// events, one not JSON and one without the partition key.
func clickRecords(t0 time.Time) []handover.Record {
	return []handover.Record{
		rec(`{"event_type":"click","page":"/a"}`, t0.Add(2*time.Second)),
		rec(`{"event_type":"view","page":"/b"}`, t0.Add(time.Second)),
		rec(`{"event_type":"click","page":"/c"}`, t0), // oldest click: names the object
		rec(`not json`, t0.Add(3*time.Second)),
		rec(`{"page":"/d"}`, t0.Add(4*time.Second)),
		rec(`{"event_type":"view","page":"/e"}`, t0.Add(59*time.Minute)),
	}
}

func TestObjectsGoldenJSONGzip(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	d := openTest(t, dpConfig(), t.TempDir(), m, clk)
	mustAccept(t, d, batch("map/shard-0", "49590338271490256608559692538361571095921575989136588802", clickRecords(clk.Now())...))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/objects_dp_gzip.golden", goldenObjects(t, m))
}

func TestObjectsGoldenUncompressed(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	cfg := testConfig()
	cfg.Prefix = "raw/"
	cfg.CustomTimeZone = "America/New_York"
	d := openTest(t, cfg, t.TempDir(), m, clk)
	mustAccept(t, d, batch("s", "1", clickRecords(clk.Now())...))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// No delimiter: records are concatenated as Firehose does by default.
	checkGolden(t, "testdata/objects_uncompressed.golden", goldenObjects(t, m))
}

func TestErrorEnvelope(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	d := openTest(t, dpConfig(), t.TempDir(), m, clk)
	at := clk.Now().Add(-time.Minute)
	mustAccept(t, d, batch("s", "1", rec("not json", at)))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := m.keys()
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "lake/errors/metadataExtractionFailed/2018/08/27/clicks-1-2018-08-27-10-29-00-") {
		t.Fatalf("keys = %v", keys)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(m.body(t, keys[0])), &env); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(env["rawData"].(string))
	if string(raw) != "not json" || env["errorCode"] != codeMetadataExtraction || env["attemptsMade"] != 1.0 ||
		env["arrivalTimestamp"] != float64(at.UnixMilli()) || env["attemptEndingTimestamp"] != float64(clk.Now().UnixMilli()) {
		t.Fatalf("envelope = %v", env)
	}
}

func TestSizeIntervalAndShutdownReasons(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	cfg := testConfig()
	cfg.BufferSize = MiB
	cfg.AppendDelimiter = true
	d := openTest(t, cfg, t.TempDir(), m, clk)
	big := strings.Repeat("x", 1023) // 1 KiB with the delimiter
	var recs []handover.Record
	for range 1024 {
		recs = append(recs, rec(big, clk.Now()))
	}
	mustAccept(t, d, batch("s", "1", recs...)) // exactly 1 MiB: size flush
	mustAccept(t, d, batch("s", "2", rec("a", clk.Now())))
	clk.Advance(299 * time.Second)
	if err := d.FlushDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if err := d.FlushDue(context.Background()); err != nil { // interval elapsed
		t.Fatal(err)
	}
	mustAccept(t, d, batch("s", "3", rec("b", clk.Now())))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, k := range m.keys() {
		reasons[m.meta[k].FlushReason] += m.meta[k].Records
	}
	if reasons[ReasonSize] != 1024 || reasons[ReasonInterval] != 1 || reasons[ReasonShutdown] != 1 || len(reasons) != 3 {
		t.Fatalf("records by reason = %v", reasons)
	}
	if got := metricValue(d.m.objects.WithLabelValues(ReasonSize)); got != 1 {
		t.Fatalf("size objects metric = %v", got)
	}
	if got := metricValue(d.m.smallObjects); got != 2 {
		t.Fatalf("small objects metric = %v, want 2", got)
	}
}

func TestMaxBufferIntervalCaps(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	d := openTest(t, testConfig(), t.TempDir(), m, clk, func(o *Options) { o.MaxBufferInterval = 5 * time.Second })
	mustAccept(t, d, batch("s", "1", rec("a", clk.Now())))
	clk.Advance(5 * time.Second)
	if err := d.FlushDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ks := m.keys(); len(ks) != 1 || m.meta[ks[0]].FlushReason != ReasonInterval {
		t.Fatalf("objects = %v", ks)
	}
	d.Close(context.Background())
}

func TestActivePartitionExceeded(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	cfg := dpConfig()
	cfg.MaxActivePartitions = 2
	d := openTest(t, cfg, t.TempDir(), m, clk)
	now := clk.Now()
	mustAccept(t, d, batch("s", "1",
		rec(`{"event_type":"a"}`, now), rec(`{"event_type":"b"}`, now), rec(`{"event_type":"c"}`, now), rec(`{"event_type":"a"}`, now)))
	if err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Once flushed, partitions are no longer active: c is accepted now.
	mustAccept(t, d, batch("s", "2", rec(`{"event_type":"c"}`, now)))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range m.keys() {
		got = append(got, strings.SplitN(strings.TrimPrefix(k, "lake/"), "/", 3)[:2]...)
	}
	want := "errors,activePartitionExceeded,events,event_type=a,events,event_type=b,events,event_type=c"
	if strings.Join(got, ",") != want {
		t.Fatalf("prefixes = %v\nwant %s", got, want)
	}
	if n := metricValue(d.m.recordsFailed.WithLabelValues(ErrTypeActivePartitionExceeded)); n != 1 {
		t.Fatalf("failed records metric = %v", n)
	}
}

func TestLambdaPartitionKeys(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	cfg := dpConfig()
	cfg.Prefix = "c=!{partitionKeyFromLambda:customer}/!{timestamp:yyyy}/"
	cfg.MetadataExtractionQuery = ""
	d := openTest(t, cfg, t.TempDir(), m, clk)
	r1 := rec(`{}`, clk.Now())
	r1.PartitionKeys = map[string]string{"customer": "../../etc"}
	mustAccept(t, d, batch("s", "1", r1, rec(`{}`, clk.Now())))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ks := m.keys()
	if len(ks) != 2 || !strings.HasPrefix(ks[0], "lake/c=..%2F..%2Fetc/2018/") || !strings.HasPrefix(ks[1], "lake/errors/metadataExtractionFailed/") {
		t.Fatalf("keys = %v", ks)
	}
}

func TestCheckpointAndClosedStream(t *testing.T) {
	clk := newClock()
	d := openTest(t, testConfig(), t.TempDir(), newMemDest(), clk)
	if d.Checkpoint("s") != "" {
		t.Fatal("checkpoint before any batch")
	}
	mustAccept(t, d, batch("s", "5"))
	mustAccept(t, d, batch("s", "", rec("x", clk.Now()))) // "" leaves it where it is
	if got := d.Checkpoint("s"); got != "5" {
		t.Fatalf("checkpoint = %q", got)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Accept(context.Background(), batch("s", "6", rec("y", clk.Now()))); err == nil {
		t.Fatal("accept after close must fail")
	}
}

func TestCollectorsRegister(t *testing.T) {
	d := openTest(t, testConfig(), t.TempDir(), newMemDest(), newClock())
	defer d.Close(context.Background())
	reg := prometheus.NewRegistry()
	for _, c := range d.Collectors() {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	mustAccept(t, d, batch("s", "1", rec("abc", time.Now())))
	if n := metricValue(d.m.bufferedRecords); n != 1 {
		t.Fatalf("buffered records = %v", n)
	}
	if n := metricValue(d.m.activePartitions); n != 1 {
		t.Fatalf("active partitions = %v", n)
	}
}

// TestLocalDirDestination runs the stream against the real local-directory
// destination: the bucket tree holds exactly the delivered objects.
func TestLocalDirDestination(t *testing.T) {
	base := t.TempDir()
	ld, err := localdir.New(filepath.Join(base, "buckets"), filepath.Join(base, "tmp"), filepath.Join(base, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	d := openTest(t, dpConfig(), filepath.Join(base, "state"), ld, clk)
	mustAccept(t, d, batch("s", "1", clickRecords(clk.Now())...))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(filepath.Join(base, "buckets"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(filepath.Join(base, "buckets"), p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if len(files) != 3 {
		t.Fatalf("bucket tree = %v", files)
	}
	for _, f := range files {
		if !strings.HasPrefix(f, "lake/events/") && !strings.HasPrefix(f, "lake/errors/") || !strings.HasSuffix(f, ".gz") {
			t.Errorf("unexpected file %s", f)
		}
		meta, err := ld.Meta("lake", strings.TrimPrefix(f, "lake/"))
		if err != nil || meta.ContentEncoding != "gzip" || meta.FlushReason != ReasonShutdown {
			t.Errorf("meta for %s = %+v, %v", f, meta, err)
		}
	}
}
