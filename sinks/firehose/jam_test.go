package firehose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/sinks/dest"
	"github.com/sluice-dev/sluice/sinks/localdir"
)

// These tests are issue 13's "one record cannot jam a delivery stream": a
// record whose key the destination cannot take must end up somewhere (its
// object, or the error output) without holding the rest of the stream,
// the write-ahead log, or any acknowledged record.

func openLocal(t *testing.T) *localdir.Dir {
	t.Helper()
	base := t.TempDir()
	ld, err := localdir.New(filepath.Join(base, "buckets"), filepath.Join(base, "tmp"), filepath.Join(base, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	return ld
}

// delivered reads every object of bucket "lake" back through r: the data
// records (one per line) by original key, and the error output records
// (one envelope per line) with their error code.
type delivered struct {
	data   map[string][]string // key → records
	errors []envelopeLine
}

type envelopeLine struct {
	Key       string
	ErrorCode string `json:"errorCode"`
	Message   string `json:"errorMessage"`
	RawData   []byte `json:"rawData"`
}

func readBack(t *testing.T, r dest.Reader) delivered {
	t.Helper()
	keys, err := r.List(context.Background(), "lake", "")
	if err != nil {
		t.Fatal(err)
	}
	out := delivered{data: map[string][]string{}}
	for _, k := range keys {
		b, _, err := r.Get(context.Background(), "lake", k)
		if err != nil {
			t.Fatalf("get %q: %v", k, err)
		}
		if strings.HasSuffix(k, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if !strings.HasPrefix(k, "errors/") {
			out.data[k] = lines
			continue
		}
		for _, l := range lines {
			e := envelopeLine{Key: k}
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("%s: error output line %q: %v", k, l, err)
			}
			out.errors = append(out.errors, e)
		}
	}
	return out
}

// records returns every record delivered, data or error output, sorted.
func (d delivered) records() []string {
	var all []string
	for _, ls := range d.data {
		all = append(all, ls...)
	}
	for _, e := range d.errors {
		all = append(all, string(e.RawData))
	}
	slices.Sort(all)
	return all
}

// assertNoneLost fails unless every acknowledged record was delivered
// exactly once, as data or in the error output.
func assertNoneLost(t *testing.T, sent []string, got delivered) {
	t.Helper()
	want := slices.Clone(sent)
	slices.Sort(want)
	if g := got.records(); !slices.Equal(g, want) {
		t.Fatalf("records in: %d, records delivered + error output: %d (want each exactly once)\ndelivered: %.300q", len(want), len(g), g)
	}
}

func clickBatch(at time.Time, types ...string) (handover.Batch, []string) {
	var recs []handover.Record
	var sent []string
	for i, ty := range types {
		data := fmt.Sprintf(`{"event_type":%q,"n":%d}`, ty, i)
		recs = append(recs, rec(data, at))
		sent = append(sent, data)
	}
	return batch("s", "1", recs...), sent
}

// TestLongPartitionValueIsDelivered: a 300-byte partition value used to
// make a key the local directory refused (a name over 255 bytes), retried
// forever. It is delivered, under the mapped name, and reads back under
// its original key.
func TestLongPartitionValueIsDelivered(t *testing.T) {
	clk := newClock()
	ld := openLocal(t)
	d := openTest(t, dpConfig(), t.TempDir(), ld, clk)
	long := strings.Repeat("x", 300)
	b, sent := clickBatch(clk.Now(), "click", long, "view")
	mustAccept(t, d, b)
	if err := d.Flush(context.Background()); err != nil {
		t.Fatalf("flush with a %d-byte partition value: %v", len(long), err)
	}
	got := readBack(t, ld)
	var longKey string
	for k := range got.data {
		if strings.HasPrefix(k, "events/event_type="+long+"/") {
			longKey = k
		}
	}
	if longKey == "" {
		t.Fatalf("no object under the long partition value; keys: %q", slices.Collect(mapKeys(got.data)))
	}
	p, err := ld.Path("lake", longKey)
	if err != nil {
		t.Fatal(err)
	}
	// <state>/buckets/lake/events/<partition>/2018/08/27/10/<object>
	name := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(p))))))
	if len(name) > 255 || !strings.HasPrefix(name, "@event_type=xxx") {
		t.Fatalf("partition directory %q (%d bytes)", name, len(name))
	}
	t.Logf("key with a %d-byte segment stored as %s", len("event_type="+long), p)
	if len(got.errors) != 0 {
		t.Fatalf("error output: %+v", got.errors)
	}
	assertNoneLost(t, sent, got)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestOverlongKeyGoesToErrorOutput: a partition value within rule 6's 512
// characters can still make a key over S3's 1,024 bytes (350 three-byte
// characters). That record goes to the error output when it is routed, as
// prefixEvaluationFailed, and the rest of its batch is delivered.
func TestOverlongKeyGoesToErrorOutput(t *testing.T) {
	clk := newClock()
	ld := openLocal(t)
	d := openTest(t, dpConfig(), t.TempDir(), ld, clk)
	huge := strings.Repeat("€", 350) // 350 characters, 1,050 bytes
	b, sent := clickBatch(clk.Now(), "click", huge, "click", "view")
	mustAccept(t, d, b)
	// Decided at Accept, before any object exists.
	if n := metricValue(d.m.recordsFailed.WithLabelValues(ErrTypePrefixEvaluation)); n != 1 {
		t.Fatalf("records routed to prefixEvaluationFailed at accept = %v, want 1", n)
	}
	if err := d.Flush(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	got := readBack(t, ld)
	if len(got.errors) != 1 || string(got.errors[0].RawData) != sent[1] ||
		!strings.HasPrefix(got.errors[0].Key, "errors/"+ErrTypePrefixEvaluation+"/") ||
		!strings.Contains(got.errors[0].Message, "S3 takes at most 1024") {
		t.Fatalf("error output = %+v", got.errors)
	}
	t.Logf("error message a user sees: %s", got.errors[0].Message)
	if len(got.data) != 2 {
		t.Fatalf("data objects = %q, want click and view", slices.Collect(mapKeys(got.data)))
	}
	assertNoneLost(t, sent, got)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// refusingDest refuses, for good, every key under refuse, and fails every
// key under flaky (transiently) while flaky is set; otherwise it passes
// puts to the store underneath.
type refusingDest struct {
	dest.Destination
	mu     sync.Mutex
	refuse string
	flaky  string
}

func (r *refusingDest) set(refuse, flaky string) {
	r.mu.Lock()
	r.refuse, r.flaky = refuse, flaky
	r.mu.Unlock()
}

func (r *refusingDest) Put(ctx context.Context, bucket, key string, body io.Reader, meta ObjectMeta) error {
	r.mu.Lock()
	refuse, flaky := r.refuse, r.flaky
	r.mu.Unlock()
	switch {
	case refuse != "" && strings.HasPrefix(key, refuse):
		io.Copy(io.Discard, body)
		return dest.Permanent("Test.AccessDenied", fmt.Errorf("test store: put %s/%s: access denied", bucket, key))
	case flaky != "" && strings.HasPrefix(key, flaky):
		io.Copy(io.Discard, body)
		return errors.New("test store: connection reset by peer")
	}
	return r.Destination.Put(ctx, bucket, key, body, meta)
}

func walSegments(t *testing.T, state string) int {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(state, "clicks", "wal"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), segmentSuffix) {
			n++
		}
	}
	return n
}

// acceptMany logs n records of each type in batches of 10, so that small
// segments fill up.
func acceptMany(t *testing.T, d *DeliveryStream, at time.Time, n int, types ...string) []string {
	var sent []string
	for i := 0; i < n; i += 10 {
		var ts []string
		for range 10 {
			ts = append(ts, types...)
		}
		b, s := clickBatch(at, ts...)
		for j := range b.Records { // distinct records
			b.Records[j].Data = fmt.Appendf(nil, `{"event_type":%q,"n":%d}`, ts[j], i*len(types)+j)
			s[j] = string(b.Records[j].Data)
		}
		mustAccept(t, d, b)
		sent = append(sent, s...)
	}
	return sent
}

// TestPermanentFailureGoesToErrorOutput: an object the destination refuses
// for good is reported (log, counter, Backlog) and its records go to the
// error output as delivery-failed, naming the cause, instead of being
// retried forever; the write-ahead log under it is reclaimed, and a
// restart neither loses nor repeats a record.
func TestPermanentFailureGoesToErrorOutput(t *testing.T) {
	clk := newClock()
	ld := openLocal(t)
	rd := &refusingDest{Destination: ld}
	rd.set("events/event_type=secret/", "")
	state := t.TempDir()
	small := func(o *Options) { o.SegmentSize = 4 << 10 }
	d := openTest(t, dpConfig(), state, rd, clk, small)
	sent := acceptMany(t, d, clk.Now(), 200, "click", "secret")
	before := walSegments(t, state)
	if err := d.Flush(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	got := readBack(t, ld)
	if len(got.errors) != 200 {
		t.Fatalf("error output holds %d records, want the 200 refused", len(got.errors))
	}
	e := got.errors[0]
	if !strings.HasPrefix(e.Key, "errors/"+ErrTypeDeliveryFailed+"/") || e.ErrorCode != "Test.AccessDenied" ||
		!strings.Contains(e.Message, "access denied") {
		t.Fatalf("error output record = %+v", e)
	}
	t.Logf("error output record: key %s, errorCode %s, errorMessage %s", e.Key, e.ErrorCode, e.Message)
	for k := range got.data {
		if strings.Contains(k, "secret") {
			t.Fatalf("refused object delivered as data: %s", k)
		}
	}
	assertNoneLost(t, sent, got)
	if n := metricValue(d.m.objectsRefused.WithLabelValues("Test.AccessDenied")); n != 1 {
		t.Errorf("objects_refused_total = %v, want 1", n)
	}
	bl := d.Backlog()
	if bl.PendingObjects != 0 || bl.FailingObjects != 0 || bl.RefusedObjects != 1 ||
		!strings.Contains(bl.LastRefusal, "events/event_type=secret/") || !strings.Contains(bl.LastRefusal, "Test.AccessDenied") {
		t.Fatalf("backlog = %+v", bl)
	}
	t.Logf("backlog: %+v", bl)
	after := walSegments(t, state)
	t.Logf("write-ahead log segments: %d before the flush, %d after", before, after)
	if before < 4 || after != 1 {
		t.Fatalf("write-ahead log: %d segments before the flush, %d after; want it reclaimed to the active one", before, after)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A restart finds nothing to redo: no record delivered twice.
	rd.set("", "")
	d = openTest(t, dpConfig(), state, rd, clk, small)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	assertNoneLost(t, sent, readBack(t, ld))
}

// TestRerouteSurvivesCrash: the stream crashes after logging a reroute but
// before the error output object is written. Reopened (with the
// destination now taking everything), it writes the error output object
// and not the refused one: each record once.
func TestRerouteSurvivesCrash(t *testing.T) {
	clk := newClock()
	ld := openLocal(t)
	rd := &refusingDest{Destination: ld}
	rd.set("events/event_type=secret/", "errors/")
	state := t.TempDir()
	d := openTest(t, dpConfig(), state, rd, clk)
	b, sent := clickBatch(clk.Now(), "click", "secret", "secret")
	mustAccept(t, d, b)
	if err := d.Flush(context.Background()); err == nil {
		t.Fatal("flush succeeded while the error output fails")
	}
	if bl := d.Backlog(); bl.RefusedObjects != 1 || bl.FailingObjects != 1 || !strings.HasPrefix(bl.LastErrorKey, "errors/delivery-failed/") {
		t.Fatalf("backlog = %+v", bl)
	}
	d.abandon()
	rd.set("", "")
	d = openTest(t, dpConfig(), state, rd, clk)
	if err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := readBack(t, ld)
	for k := range got.data {
		if strings.Contains(k, "secret") {
			t.Fatalf("the refused object was written after the restart: %s", k)
		}
	}
	if len(got.errors) != 2 || got.errors[0].ErrorCode != "Test.AccessDenied" {
		t.Fatalf("error output = %+v", got.errors)
	}
	assertNoneLost(t, sent, got)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestFailingObjectIsShown: while the destination fails an object
// (transiently) it is pending and failing, with its error and age, in
// Backlog and in the metrics; it is retried, not rerouted, and once the
// destination recovers it is delivered and the log reclaimed.
func TestFailingObjectIsShown(t *testing.T) {
	clk := newClock()
	ld := openLocal(t)
	rd := &refusingDest{Destination: ld}
	rd.set("", "events/event_type=click/")
	state := t.TempDir()
	small := func(o *Options) { o.SegmentSize = 4 << 10 }
	d := openTest(t, dpConfig(), state, rd, clk, small)
	reg := prometheus.NewRegistry()
	reg.MustRegister(d.Collectors()...)
	sent := acceptMany(t, d, clk.Now(), 100, "click", "view")
	if err := d.Flush(context.Background()); err == nil {
		t.Fatal("flush succeeded while the destination fails")
	}
	clk.Advance(90 * time.Second)
	bl := d.Backlog()
	if bl.PendingObjects != 1 || bl.FailingObjects != 1 || bl.OldestPending != 90*time.Second ||
		!strings.Contains(bl.LastError, "connection reset") || !strings.HasPrefix(bl.LastErrorKey, "events/event_type=click/") {
		t.Fatalf("backlog while failing = %+v", bl)
	}
	m := gather(t, reg)
	for name, want := range map[string]float64{
		"sluice_firehose_pending_objects":                   1,
		"sluice_firehose_failing_objects":                   1,
		"sluice_firehose_oldest_pending_object_age_seconds": 90,
	} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
	if walSegments(t, state) < 2 {
		t.Fatal("the failing object's records should hold the log")
	}
	rd.set("", "")
	if err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bl := d.Backlog(); bl.PendingObjects != 0 || bl.FailingObjects != 0 || bl.LastError != "" || bl.RefusedObjects != 0 {
		t.Fatalf("backlog after recovery = %+v", bl)
	}
	if m := gather(t, reg); m["sluice_firehose_failing_objects"] != 0 || m["sluice_firehose_pending_objects"] != 0 {
		t.Fatalf("metrics after recovery: %v", m)
	}
	if n := walSegments(t, state); n != 1 {
		t.Fatalf("write-ahead log holds %d segments after delivery, want 1", n)
	}
	assertNoneLost(t, sent, readBack(t, ld))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// gather returns each single-series metric's value by name.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if ms := f.GetMetric(); len(ms) == 1 {
			out[f.GetName()] = value(ms[0])
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	return m.GetGauge().GetValue() + m.GetCounter().GetValue()
}
