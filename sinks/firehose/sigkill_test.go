package firehose

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/sinks/localdir"
)

// TestSIGKILLDuringDelivery re-executes the test binary as a child that
// feeds a delivery stream from a deterministic source (record i is always
// the same bytes), resuming from the stream's own checkpoint, and prints
// each acknowledged position. The parent kills it with SIGKILL mid-stream,
// SLUICE_CRASH_ROUNDS times (default 3), then reopens the state directory,
// flushes, and checks the bucket: every acknowledged record exactly once,
// nothing duplicated.

const crashChildEnv = "SLUICE_FIREHOSE_CRASH_CHILD"

func sigkillConfig() Config {
	return Config{
		Name: "crash", Bucket: "lake",
		Prefix:                  "p=!{partitionKeyFromQuery:p}/!{firehose:random-string}/",
		ErrorOutputPrefix:       "errors/!{firehose:error-output-type}/",
		BufferSize:              64 * MiB,
		BufferInterval:          60 * time.Second,
		DynamicPartitioning:     true,
		MetadataExtractionQuery: "{p:.p}",
		AppendDelimiter:         true,
		Compression:             CompressionGZIP,
	}
}

func sigkillOpen(t testing.TB, dir string) (*DeliveryStream, *localdir.Dir) {
	t.Helper()
	ld, err := localdir.New(filepath.Join(dir, "buckets"), filepath.Join(dir, "tmp"), filepath.Join(dir, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Open(sigkillConfig(), Options{StateDir: filepath.Join(dir, "state"), Destination: ld,
		MaxBufferInterval: 50 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return d, ld
}

func crashRecord(i int) []byte { return fmt.Appendf(nil, `{"i":%d,"p":%d,"pad":"%030d"}`, i, i%7, i) }

// crashChild runs until killed.
func crashChild(t *testing.T, dir string) {
	d, _ := sigkillOpen(t, dir)
	next := 0
	if cp := d.Checkpoint("src"); cp != "" {
		n, err := strconv.Atoi(cp)
		if err != nil {
			t.Fatal(err)
		}
		next = n + 1
	}
	out := bufio.NewWriter(os.Stdout)
	for {
		var recs []handover.Record
		for i := next; i < next+50; i++ {
			recs = append(recs, handover.Record{Data: crashRecord(i), ArrivalTime: time.Now()})
		}
		if err := d.Accept(context.Background(), handover.Batch{Source: handover.Source{ID: "src", Checkpoint: fmt.Sprint(next + 49)}, Records: recs}); err != nil {
			t.Fatal(err)
		}
		next += 50
		fmt.Fprintf(out, "acked %d\n", next-1)
		out.Flush()
	}
}

func TestSIGKILLDuringDelivery(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	rounds := 3
	if v := os.Getenv("SLUICE_CRASH_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	dir := t.TempDir()
	acked := -1
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLDuringDelivery$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill once the child acknowledged a few thousand more records:
		// buffers are flushing (every 50 ms) and batches are being logged.
		target := acked + 3000 + 1000*round
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var n int
			if _, err := fmt.Sscanf(sc.Text(), "acked %d", &n); err != nil {
				continue // test framework chatter
			}
			if n <= acked {
				t.Fatalf("round %d: child acknowledged %d again (after %d): it did not resume from its checkpoint", round, n, acked)
			}
			acked = n
			if acked >= target {
				break
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		if acked < target {
			t.Fatalf("round %d: child stopped at %d before reaching %d:\n%s", round, acked, target, stderr.String())
		}
	}
	d, ld := sigkillOpen(t, dir)
	cp, _ := strconv.Atoi(d.Checkpoint("src"))
	if cp < acked {
		t.Fatalf("recovered checkpoint %d is behind the last acknowledged %d", cp, acked)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	keys, err := ld.List(context.Background(), "lake", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "errors/") {
			t.Errorf("error object %s", k)
		}
		b, _, err := ld.Get(context.Background(), "lake", k)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		body, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			seen[l]++
		}
	}
	// Everything up to the recovered checkpoint was accepted (the child
	// never skips); the checkpoint is at or past the last acknowledgement.
	for i := 0; i <= cp; i++ {
		if n := seen[string(crashRecord(i))]; n != 1 {
			t.Fatalf("record %d delivered %d times (acknowledged up to %d, checkpoint %d)", i, n, acked, cp)
		}
		delete(seen, string(crashRecord(i)))
	}
	if len(seen) != 0 {
		t.Fatalf("%d records in the bucket beyond the checkpoint %d", len(seen), cp)
	}
	t.Logf("%d rounds: %d records acknowledged, checkpoint %d, %d objects", rounds, acked+1, cp, len(keys))
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
