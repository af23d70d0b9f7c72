package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/harness"
	"github.com/sluice-dev/sluice/sinks/s3/s3test"
)

// TestKillMidFlushKeepsS3ExactlyOnce SIGKILLs `sluice up --s3-endpoint`
// (a real versitygw) while an object upload is in flight, several times
// while clicks are being put, and checks that every acknowledged click is
// in S3 exactly once: nothing lost, nothing twice, nothing unacknowledged.
//
// The kill lands mid-flush by construction, not by a guessed sleep: S3
// traffic goes through a harness.Proxy that traps the next object upload
// to the archive bucket and holds it at one of three moments, in turn:
//
//   - before-forward: the upload left sluice, the store has none of it;
//   - mid-body: the store has the headers and half the body, then the
//     connection dies;
//   - after-response: the store has the object, sluice never hears so.
//
// The last one is where an at-least-once sink duplicates: the restarted
// sluice finds the flush decided but not done in its write-ahead log and
// writes it again; the object name, derived from what the object holds,
// must be the same, so the rewrite replaces instead of adding. A short
// buffer interval (--max-buffer-interval 250ms) keeps flushes continual, so
// a trap springs within a fraction of a second.
//
// The producer reaches sluice through a second proxy that is paused for
// the kill: requests already in flight are answered, new ones wait at the
// door and go to the restarted sluice. The producer therefore never loses
// an answer and never resends a stored record, so the stream holds each
// acknowledged click once and "exactly once" can be asserted exactly
// (TestKillDuringPutsLosesNoAcknowledgedRecord kills during puts).
//
// SLUICE_CHAOS_ROUNDS sets the number of kills (3 in `make test`, one per
// moment; 20 in `make chaos-s3-kill`).
func TestKillMidFlushKeepsS3ExactlyOnce(t *testing.T) {
	rounds := envInt("SLUICE_CHAOS_ROUNDS", 3)
	srv := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CA_BUNDLE", "")
	ctx := t.Context()
	s3p, err := harness.StartProxy(ctx, srv.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	defer s3p.Close()

	state := t.TempDir()
	var killedLogs strings.Builder // shown if the test fails
	var s *harness.Sluice
	start := func() {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 3*time.Minute) // a cold plugin build is slow
		defer cancel()
		var err error
		s, err = harness.Start(sctx, sluiceBin, nil, "-t", filepath.Join(repoRoot, "template.yaml"),
			"--state-dir", state, "--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0",
			"--max-buffer-interval", "250ms", "--parameter-overrides", "AnomalyWindowSeconds=2",
			"--s3-endpoint", s3p.URL)
		if err != nil {
			t.Fatal(err)
		}
	}
	start()
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("logs of the killed instances:\n%s\nlog of the last instance:\n%s", killedLogs.String(), s.Log())
		}
	})
	kp, err := harness.StartProxy(ctx, s.Endpoints.Kinesis)
	if err != nil {
		t.Fatal(err)
	}
	defer kp.Close()

	// -count 0: the generator puts until interrupted, so it is still
	// putting at every kill however long restarts take.
	acked := filepath.Join(t.TempDir(), "acked")
	gen := generate(t, kp.URL, 0, acked, "-rate", "2000", "-max-retries", "80")
	defer gen.Process.Kill()
	genDone := make(chan error, 1)
	go func() { genDone <- gen.Wait() }()
	// waitAcked waits until n clicks are acknowledged, failing at once
	// with the generator's own words if it gave up.
	waitAcked := func(n int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			if lines, _ := harness.ReadLines(acked); len(lines) >= n {
				return
			}
			select {
			case err := <-genDone:
				t.Fatalf("generator exited before %d clicks were acknowledged: %v\n%s", n, err, gen.Stderr)
			case <-time.After(50 * time.Millisecond): // polling a file another process appends to
			}
			if time.Now().After(deadline) {
				t.Fatalf("generator did not acknowledge %d clicks within a minute", n)
			}
		}
	}
	waitAcked(500)

	archiveObject := func(r *http.Request) bool {
		key, ok := strings.CutPrefix(r.URL.Path, "/clickstream-archive/")
		return r.Method == http.MethodPut && ok && key != ""
	}
	stages := []harness.Stage{harness.BeforeForward, harness.MidBody, harness.AfterResponse}
	var interrupted []string // keys of the uploads the kills cut
	began := time.Now()
	for round := 1; round <= rounds; round++ {
		stage := stages[(round-1)%len(stages)]
		var c *harness.Caught
		select {
		case c = <-s3p.Trap(archiveObject, stage):
		case err := <-genDone:
			t.Fatalf("round %d: generator exited: %v\n%s", round, err, gen.Stderr)
		case <-time.After(30 * time.Second): // a bound on a missing event, not a synchronisation
			t.Fatalf("round %d: no upload to the archive bucket within 30 s", round)
		}
		kp.Pause()
		s.Kill()
		c.Release() // to a dead client: the upload never completes for sluice
		interrupted = append(interrupted, strings.TrimPrefix(c.Path, "/clickstream-archive/"))
		n, _ := harness.ReadLines(acked)
		t.Logf("round %d: SIGKILL with the upload of %s held %s, %d clicks acknowledged", round, c.Path, stage, len(n))
		fmt.Fprintf(&killedLogs, "--- round %d: killed at %s of %s\n%s", round, stage, c.Path, tail(s.Log(), 4000))
		start()
		if err := kp.SetTarget(s.Endpoints.Kinesis); err != nil {
			t.Fatal(err)
		}
		kp.Resume()
	}
	t.Logf("%d kills in %s", rounds, time.Since(began).Round(time.Millisecond))
	// A few more puts reach the last instance before the generator stops.
	n, _ := harness.ReadLines(acked)
	waitAcked(len(n) + 500)
	gen.Process.Signal(os.Interrupt) // stops after the batch in flight, which it sees acknowledged
	if err := <-genDone; err != nil {
		t.Fatalf("generator: %v\n%s", err, gen.Stderr)
	}
	// Its retries of whole calls, if any: a click the stream holds twice
	// was resent after an answer got lost (the proxy should prevent that).
	t.Logf("generator: %s", strings.TrimSpace(gen.Stderr.(*strings.Builder).String()))
	inStream, err := harness.StreamEventIDs(ctx, s.Client(), "clickstream")
	if err != nil {
		t.Fatal(err)
	}
	drain(t, s, state)

	ids, err := harness.ReadLines(acked)
	if err != nil {
		t.Fatal(err)
	}
	store := srv.Store()
	// Enrich's Parquet archive, and Scrub's (WASM) JSON copy of every
	// click: two delivery streams, each killed mid-flush or beside one.
	for _, bucket := range []string{"clickstream-archive", "clickstream-shared"} {
		objs, err := harness.ReadStore(ctx, store, bucket)
		if err != nil {
			t.Fatal(err)
		}
		checkExactlyOnce(t, bucket, ids, inStream, objs)
		if bucket != "clickstream-archive" {
			continue
		}
		// The flush intent is durable before its upload starts, so the
		// restarted sluice finishes each interrupted upload under the very
		// key it had chosen: a replay rewrites, it does not rename.
		keys := map[string]bool{}
		for _, o := range objs {
			keys[o.Key] = true
		}
		for i, k := range interrupted {
			if !keys[k] {
				t.Errorf("round %d: the interrupted upload of %s was not completed under its key", i+1, k)
			}
		}
	}
}

// checkExactlyOnce asserts that objs hold every id of acked once and
// nothing else.
func checkExactlyOnce(t *testing.T, bucket string, acked []string, inStream map[string]int, objs []harness.Object) {
	t.Helper()
	seen := harness.EventIDs(objs)
	total, dups, streamDups := 0, 0, 0
	for _, n := range seen {
		total += n
		dups += n - 1
	}
	for _, n := range inStream {
		streamDups += n - 1
	}
	lost := harness.Missing(acked, seen)
	ackedSet := make(map[string]bool, len(acked))
	for _, id := range acked {
		ackedSet[id] = true
	}
	unacked := 0
	for id := range seen {
		if !ackedSet[id] {
			unacked++
		}
	}
	t.Logf("%s: acknowledged %d, in S3 %d records (%d distinct) in %d objects: lost %d, duplicates %d, unacknowledged %d (stream holds %d records, %d duplicated)",
		bucket, len(acked), total, len(seen), len(objs), lost, dups, unacked, len(inStream)+streamDups, streamDups)
	if lost > 0 || dups > 0 || unacked > 0 || total != len(acked) || len(seen) != len(acked) {
		t.Errorf("%s: want every acknowledged click exactly once: %d acknowledged, %d in S3 (%d distinct), lost %d, duplicates %d, unacknowledged %d",
			bucket, len(acked), total, len(seen), lost, dups, unacked)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
