package firehose

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/sinks/dest"
)

// A state directory written by the release before the write-ahead log
// moved onto internal/seglog (JSON head, intent and done entries, JSON
// routes inside binary batches) must open with this one: every buffered
// record, pending flush and checkpoint comes back. testdata/statedir-v1
// was written by TestWriteWALFixture at that release; its expect.json
// holds what the fixture's writer saw (the keys of the flushes it left
// pending).

const walFixtureEnv = "SLUICE_WRITE_STATEDIR_FIXTURE"

func walFixtureConfig() Config {
	return Config{
		Name: "clicks", Bucket: "lake",
		Prefix:                  "p=!{partitionKeyFromQuery:p}/",
		ErrorOutputPrefix:       "errors/!{firehose:error-output-type}/",
		BufferSize:              64 * MiB,
		BufferInterval:          60 * time.Second,
		MetadataExtractionQuery: "{p:.p}",
		DynamicPartitioning:     true,
		AppendDelimiter:         true,
		Compression:             CompressionNone,
	}
}

// walFixtureExpect is what the fixture's writer left behind.
type walFixtureExpect struct {
	// Pending are the keys of flushes decided but not delivered: a plain
	// one and a reroute to the error output after a permanent refusal.
	Pending     []string          `json:"pending"`
	Checkpoints map[string]string `json:"checkpoints"`
	// Records are the records not yet delivered.
	Records []string `json:"records"`
}

// walFixtureDest fails puts as the fixture needs: transiently for keys with
// a prefix in fail, permanently for keys with a prefix in refuse. It
// remembers the keys it failed.
type walFixtureDest struct {
	*memDest
	mu     sync.Mutex
	fail   []string
	refuse []string
	failed []string
}

func (r *walFixtureDest) Put(ctx context.Context, bucket, key string, body io.Reader, meta ObjectMeta) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.refuse {
		if strings.HasPrefix(key, p) {
			return dest.Permanent("Test.Refused", errors.New("refused for the fixture"))
		}
	}
	for _, p := range r.fail {
		if strings.HasPrefix(key, p) {
			if !slices.Contains(r.failed, key) {
				r.failed = append(r.failed, key)
			}
			return errors.New("unavailable for the fixture")
		}
	}
	return r.memDest.Put(ctx, bucket, key, body, meta)
}

// TestWriteWALFixture regenerates testdata/statedir-v1 when the
// environment asks for it (never in a normal run).
func TestWriteWALFixture(t *testing.T) {
	if os.Getenv(walFixtureEnv) == "" {
		return
	}
	dir := filepath.Join("testdata", "statedir-v1")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	rd := &walFixtureDest{memDest: newMemDest(), fail: []string{"p=2/", "errors/delivery-failed/"}, refuse: []string{"p=4/"}}
	ctx := context.Background()

	// First run: one flush delivered (p=1 and a record to the error
	// output), one pending (p=2), one rerouted and pending (p=4).
	d := openTest(t, walFixtureConfig(), dir, rd, clk)
	mustAccept(t, d, batch("shard-a", "a1", rec(`{"p":1,"i":1}`, clk.Now()), rec(`{"p":1,"i":2}`, clk.Now())))
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mustAccept(t, d, batch("shard-b", "b1", rec(`{"p":2,"i":3}`, clk.Now()), rec(`not json`, clk.Now()), rec(`{"p":4,"i":5}`, clk.Now())))
	if err := d.Flush(ctx); err == nil {
		t.Fatal("flush must fail for p=2")
	}
	d.abandon()

	// Second run (a new segment): a buffered record, not flushed.
	clk.Advance(time.Second)
	d = openTest(t, walFixtureConfig(), dir, rd, clk)
	mustAccept(t, d, batch("shard-a", "a2", rec(`{"p":3,"i":4}`, clk.Now())))
	d.abandon()

	rd.mu.Lock()
	pending := slices.Clone(rd.failed)
	rd.mu.Unlock()
	slices.Sort(pending)
	exp := walFixtureExpect{
		Pending:     pending,
		Checkpoints: map[string]string{"shard-a": "a2", "shard-b": "b1"},
		Records:     []string{`{"p":2,"i":3}`, `{"p":3,"i":4}`, `{"p":4,"i":5}`},
	}
	b, _ := json.MarshalIndent(exp, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "expect.json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenWALFromPreviousRelease(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "statedir-v1", "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp walFixtureExpect
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp.Pending) != 2 {
		t.Fatalf("fixture expects pending flushes %v", exp.Pending)
	}
	t.Run("upgrade", func(t *testing.T) { checkWALFixture(t, exp, copyWALFixture(t)) })
	t.Run("upgrade interrupted", func(t *testing.T) {
		// A crash during an earlier upgrade left a scratch directory and
		// the first segment already renamed into place, beside every
		// legacy segment: the upgrade runs again from the legacy ones.
		done := copyWALFixture(t)
		wal := filepath.Join(done, "clicks", "wal")
		if _, err := listSegments(wal); err != nil {
			t.Fatal(err)
		}
		dir := copyWALFixture(t)
		into := filepath.Join(dir, "clicks", "wal")
		b, err := os.ReadFile(filepath.Join(wal, segName(1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(into, segName(1)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(into, upgradeScratch), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(into, upgradeScratch, segName(2)), []byte("half written"), 0o644); err != nil {
			t.Fatal(err)
		}
		checkWALFixture(t, exp, dir)
	})
}

func copyWALFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "statedir-v1"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkWALFixture opens the fixture copied to dir and checks that every
// checkpoint, pending flush and buffered record came back, and that no
// legacy segment is left.
func checkWALFixture(t *testing.T, exp walFixtureExpect, dir string) {
	t.Helper()
	clk, m := newClock(), newMemDest()
	clk.Advance(2 * time.Second)
	d := openTest(t, walFixtureConfig(), dir, m, clk)
	for src, cp := range exp.Checkpoints {
		if got := d.Checkpoint(src); got != cp {
			t.Errorf("checkpoint of %s = %q, want %q", src, got, cp)
		}
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The pending flushes are re-executed under the keys they were
	// decided with; the rerouted one carries its records in error
	// envelopes, so count the plain ones only.
	keys := m.keys()
	for _, k := range exp.Pending {
		if !slices.Contains(keys, "lake/"+k) {
			t.Errorf("pending flush %s not delivered; bucket holds %v", k, keys)
		}
	}
	var plain []string
	for _, k := range keys {
		if strings.HasPrefix(k, "lake/p=") {
			plain = append(plain, strings.Split(strings.TrimSuffix(m.body(t, k), "\n"), "\n")...)
		}
	}
	slices.Sort(plain)
	want := []string{`{"p":2,"i":3}`, `{"p":3,"i":4}`}
	if !slices.Equal(plain, want) {
		t.Errorf("records delivered = %q, want %q", plain, want)
	}
	var rerouted int
	for _, k := range keys {
		if strings.HasPrefix(k, "lake/errors/delivery-failed/") {
			body := m.body(t, k)
			if !strings.Contains(body, "Test.Refused") {
				t.Errorf("rerouted object %s lacks the failure: %s", k, body)
			}
			rerouted++
		}
	}
	if rerouted != 1 {
		t.Errorf("%d rerouted objects, want 1 (bucket: %v)", rerouted, keys)
	}
	ents, err := os.ReadDir(filepath.Join(dir, "clicks", "wal"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), segmentSuffix) {
			t.Errorf("%s left in the log directory after the upgrade", e.Name())
		}
	}
}
