// Package e2e runs the real sluice binary on the sample template: the
// clickstream pipeline from producer to bucket, and what it loses when
// killed (nothing).
package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"encoding/json"

	"github.com/sluice-dev/sluice/internal/harness"
)

var (
	sluiceBin, clickgenBin, repoRoot string
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		tmp, err := os.MkdirTemp("", "sluice-e2e-*")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(tmp)
		repoRoot, _ = filepath.Abs("..")
		sluiceBin = filepath.Join(tmp, "sluice")
		clickgenBin = filepath.Join(tmp, "clickstream")
		for bin, pkg := range map[string]string{sluiceBin: "./cmd/sluice", clickgenBin: "./samples/clickstream"} {
			cmd := exec.Command("go", "build", "-o", bin, pkg)
			cmd.Dir = repoRoot
			cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
				return 1
			}
		}
		// Functions build once for the whole run (plugins cached by content).
		os.Setenv("SLUICE_CACHE_DIR", filepath.Join(tmp, "cache"))
		return m.Run()
	}())
}

func startSluice(t *testing.T, stateDir, kinesisAddr string) *harness.Sluice {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a cold plugin build is slow
	defer cancel()
	s, err := harness.Start(ctx, sluiceBin, nil,
		"-t", filepath.Join(repoRoot, "template.yaml"),
		"--state-dir", stateDir,
		"--kinesis-addr", kinesisAddr,
		"--control-addr", "127.0.0.1:0",
		"--max-buffer-interval", "1s",
		// Anomaly's checkpoint moves when its window closes: keep it short.
		"--parameter-overrides", "AnomalyWindowSeconds=2",
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice log:\n%s", s.Log())
		}
	})
	return s
}

func generate(t *testing.T, endpoint string, count int, acked string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"-endpoint", endpoint, "-stream", "clickstream", "-count", fmt.Sprint(count), "-acked", acked, "-progress", "0"}, extra...)
	cmd := exec.Command(clickgenBin, args...)
	cmd.Stderr = &strings.Builder{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// drain waits until every record in the stream is checkpointed by the
// mappings, then stops sluice so its buffers flush.
func drain(t *testing.T, s *harness.Sluice, stateDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	last, err := harness.LastSequenceNumbers(ctx, s.Client(), "clickstream")
	if err != nil {
		t.Fatalf("reading the stream's ends: %v", err)
	}
	if err := harness.WaitCheckpointed(ctx, stateDir, last); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
}

var keyPattern = regexp.MustCompile(`^events/event_type=([a-z_]+)/(\d{4}/\d{2}/\d{2}/\d{2})/clickstream-archive-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.parquet$`)

type enriched struct {
	EventID     string `json:"event_id"`
	EventType   string `json:"event_type"`
	SessionID   string `json:"session_id"`
	UserAgent   string `json:"user_agent"`
	DeviceClass string `json:"device_class"`
	EventHour   string `json:"event_hour"`
}

func TestClickstreamPipelineDeliversEveryClick(t *testing.T) {
	const n = 3000
	state := t.TempDir()
	s := startSluice(t, state, "127.0.0.1:0")
	acked := filepath.Join(t.TempDir(), "acked")
	gen := generate(t, s.Endpoints.Kinesis, n, acked)
	if err := gen.Wait(); err != nil {
		t.Fatalf("generator: %v\n%s", err, gen.Stderr)
	}
	drain(t, s, state)

	ids, err := harness.ReadLines(acked)
	if err != nil || len(ids) != n {
		t.Fatalf("acked %d ids (%v), want %d", len(ids), err, n)
	}
	objs, err := harness.ReadBucket(filepath.Join(state, "buckets", "clickstream-archive"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, o := range objs {
		m := keyPattern.FindStringSubmatch(o.Key)
		if m == nil {
			t.Errorf("object key %q is not events/event_type=<type>/yyyy/MM/dd/HH/<firehose name>", o.Key)
			continue
		}
		for _, rec := range o.Records {
			var e enriched
			if err := json.Unmarshal(rec, &e); err != nil {
				t.Fatalf("%s: record %q is not JSON: %v", o.Key, rec, err)
			}
			seen[e.EventID]++
			if e.EventType != m[1] {
				t.Errorf("%s holds a %s event", o.Key, e.EventType)
			}
			if e.DeviceClass == "" || e.EventHour == "" {
				t.Errorf("record %s is not enriched: %s", e.EventID, rec)
			}
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("event %s delivered %d times, want once", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Errorf("bucket holds %d distinct events, want %d", len(seen), n)
	}
	t.Logf("%d records in %d objects", n, len(objs))

	// Scrub (a WASM module) wrote an anonymised copy of every click.
	shared, err := harness.ReadBucket(filepath.Join(state, "buckets", "clickstream-shared"))
	if err != nil {
		t.Fatal(err)
	}
	scrubbed := map[string]bool{}
	for _, o := range shared {
		for _, rec := range o.Records {
			var c map[string]any
			if err := json.Unmarshal(rec, &c); err != nil {
				t.Fatalf("scrubbed record %q: %v", rec, err)
			}
			if _, ok := c["user_id"]; ok {
				t.Fatalf("scrubbed record keeps user_id: %s", rec)
			}
			if ip, _ := c["ip"].(string); !strings.HasSuffix(ip, ".0") && !strings.Contains(ip, ":") {
				t.Fatalf("scrubbed record keeps the host part of its IP: %s", rec)
			}
			// CountryPartitioner, the delivery stream's transformation
			// function, chose the prefix.
			if country, _ := c["country"].(string); !strings.HasPrefix(o.Key, "clicks/country="+country+"/") {
				t.Fatalf("a %s click landed under %s", country, o.Key)
			}
			scrubbed[harness.EventID(rec)] = true
		}
	}
	if len(scrubbed) != n {
		t.Errorf("clickstream-shared holds %d distinct clicks, want %d", len(scrubbed), n)
	}
	assertOnlyObjectsUnderBuckets(t, filepath.Join(state, "buckets"))
}

// TestKillDuringPutsLosesNoAcknowledgedRecord SIGKILLs `sluice up` at random
// moments while the generator is putting — during start-up recovery, while
// batches are in flight, while objects are written — restarts it on the same
// state dir and port, and checks that every acknowledged record reaches the
// bucket. SLUICE_CHAOS_ROUNDS sets the number of kills (3 in `make test`,
// more in `make chaos`); SLUICE_CHAOS_SEED replays a run.
func TestKillDuringPutsLosesNoAcknowledgedRecord(t *testing.T) {
	rounds := envInt("SLUICE_CHAOS_ROUNDS", 3)
	seed := int64(envInt("SLUICE_CHAOS_SEED", int(time.Now().UnixNano()%1e9)))
	rng := rand.New(rand.NewSource(seed))
	t.Logf("%d kill rounds, SLUICE_CHAOS_SEED=%d", rounds, seed)

	state := t.TempDir()
	addr := freeAddr(t)
	s := startSluice(t, state, addr)
	acked := filepath.Join(t.TempDir(), "acked")
	// The generator outlives the kills: it retries while sluice restarts.
	total := 3000 + rounds*3000
	gen := generate(t, "http://"+addr, total, acked, "-rate", "3000", "-max-retries", "80")
	waitLines(t, acked, 1000)
	for round := 1; round <= rounds; round++ {
		time.Sleep(time.Duration(rng.Intn(1500)) * time.Millisecond) // a random point, not a synchronisation
		s.Kill()
		n, _ := harness.ReadLines(acked)
		t.Logf("round %d: SIGKILL with %d records acknowledged", round, len(n))
		s = startSluice(t, state, addr)
	}
	if err := gen.Wait(); err != nil {
		t.Fatalf("generator: %v\n%s", err, gen.Stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inStream, err := harness.StreamEventIDs(ctx, s.Client(), "clickstream")
	if err != nil {
		t.Fatal(err)
	}
	drain(t, s, state)

	ids, err := harness.ReadLines(acked)
	if err != nil {
		t.Fatal(err)
	}
	seen, err := harness.Delivered(filepath.Join(state, "buckets", "clickstream-archive"))
	if err != nil {
		t.Fatal(err)
	}
	inBucket := 0
	for _, n := range seen {
		inBucket += n
	}
	lost, dups := harness.Missing(ids, seen), 0
	pipelineDups := 0
	for id, c := range seen {
		dups += c - 1
		// A producer retry after a kill stores an event twice in the stream;
		// only copies beyond the stream's are the pipeline's doing.
		pipelineDups += max(0, c-max(inStream[id], 1))
	}
	t.Logf("acknowledged %d, in bucket %d records (%d distinct), lost %d, duplicates %d (%d already duplicated in the stream by producer retries, %d added by the pipeline)",
		len(ids), inBucket, len(seen), lost, dups, dups-pipelineDups, pipelineDups)
	if lost > 0 {
		t.Fatalf("%d acknowledged records are missing from the bucket", lost)
	}
	if pipelineDups > 0 {
		// The sink stores the checkpoint with the data and names objects by
		// content, so a restart must not deliver a record twice.
		t.Errorf("the pipeline delivered %d records more often than the stream holds them", pipelineDups)
	}
	assertOnlyObjectsUnderBuckets(t, filepath.Join(state, "buckets"))
}

func assertOnlyObjectsUnderBuckets(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (strings.HasPrefix(info.Name(), ".") || strings.Contains(info.Name(), "tmp")) {
			t.Errorf("temporary file under buckets/: %s", path)
		}
		return nil
	})
}

func waitLines(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if lines, _ := harness.ReadLines(path); len(lines) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling a file another process appends to
	}
	t.Fatalf("generator did not acknowledge %d records within a minute", n)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
