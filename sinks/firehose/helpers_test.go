package firehose

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/internal/clock"
)

// newClock is the tests' clock. openTest gives it to a stream as
// Options.Now, so the background scheduler keeps wall-clock timers and
// tests flush on fake time themselves (FlushDue, Flush); tests of the
// scheduler give it as Options.Clock instead.
func newClock() *clock.Fake {
	return clock.NewFake(time.Date(2018, 8, 27, 10, 30, 0, 0, time.UTC))
}

// memDest is an in-memory Destination with fault injection. It outlives
// the delivery streams of a test, the way a bucket outlives a crash.
type memDest struct {
	mu   sync.Mutex
	objs map[string][]byte
	meta map[string]ObjectMeta
	puts map[string]int
	// failAfterWrite, when it returns true for a key, stores the object
	// and then reports failure: the "crash after PutObject" case.
	failAfterWrite func(key string) bool
	// failBefore, when it returns true, fails without storing.
	failBefore func(key string) bool
}

func newMemDest() *memDest {
	return &memDest{objs: map[string][]byte{}, meta: map[string]ObjectMeta{}, puts: map[string]int{}}
}

func (m *memDest) Put(ctx context.Context, bucket, key string, body io.Reader, meta ObjectMeta) error {
	m.mu.Lock()
	fb, fa := m.failBefore, m.failAfterWrite
	m.mu.Unlock()
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if fb != nil && fb(key) {
		return errors.New("injected failure before write")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	full := bucket + "/" + key
	if prev, ok := m.objs[full]; ok && !bytes.Equal(prev, b) {
		// A rewrite must carry identical bytes; anything else is a bug.
		return errors.New("memDest: key " + full + " rewritten with different content")
	}
	m.objs[full] = b
	m.meta[full] = meta
	m.puts[full]++
	if fa != nil && fa(key) {
		return errors.New("injected failure after write")
	}
	return nil
}

func (m *memDest) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ks []string
	for k := range m.objs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// body returns an object's content, decompressed.
func (m *memDest) body(t testing.TB, key string) string {
	t.Helper()
	m.mu.Lock()
	b := m.objs[key]
	m.mu.Unlock()
	if strings.HasSuffix(key, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		b, err = io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	return string(b)
}

func openTest(t testing.TB, cfg Config, dir string, dst Destination, clk *clock.Fake, mod ...func(*Options)) *DeliveryStream {
	t.Helper()
	o := Options{StateDir: dir, Destination: dst, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range mod {
		f(&o)
	}
	d, err := Open(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func rec(data string, at time.Time) handover.Record {
	return handover.Record{Data: []byte(data), ArrivalTime: at}
}

func batch(src, cp string, recs ...handover.Record) handover.Batch {
	return handover.Batch{Source: handover.Source{ID: src, Checkpoint: cp}, Records: recs}
}

func mustAccept(t testing.TB, d *DeliveryStream, b handover.Batch) {
	t.Helper()
	if err := d.Accept(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// metricValue reads a single-metric collector (a counter or gauge).
func metricValue(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	close(ch)
	var pb dto.Metric
	if err := (<-ch).Write(&pb); err != nil {
		panic(err)
	}
	if pb.Counter != nil {
		return pb.Counter.GetValue()
	}
	return pb.Gauge.GetValue()
}
