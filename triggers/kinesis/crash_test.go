package kinesis_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/handover/handovertest"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/streams"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
	kt "github.com/sluice-dev/sluice/triggers/kinesis"
)

// TestCrashSIGKILL (issue 5): a child process runs the embedded stream, a
// producer and a mapping with ParallelizationFactor 3 into a durable file
// sink; it is SIGKILLed at a random point under load, three times. A last
// run drains the stream. Every record whose PutRecords was acknowledged
// must be in the sink; duplicates are counted and reported.
func TestCrashSIGKILL(t *testing.T) {
	if os.Getenv("ESM_CRASH_CHILD") != "" {
		t.Skip("child mode runs through TestCrashChild")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	from := 0
	for round := range 3 {
		cmd := crashChild(t, dir, "load", from)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+rng.IntN(500)) * time.Millisecond) // a random crash point, not synchronisation
		cmd.Process.Kill()
		cmd.Wait()
		from = len(readAcked(t, dir)) + 10000*(round+1) // new records never reuse a number
	}
	cmd := crashChild(t, dir, "drain", 0)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("drain run: %v\n%s", err, out)
	}
	acked := readAcked(t, dir)
	seen := readSinkFile(t, filepath.Join(dir, "sink.log"))
	dups := 0
	for _, r := range acked {
		switch n := seen[r]; {
		case n == 0:
			t.Errorf("acknowledged record %s is not in the sink", r)
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("3 SIGKILLs: %d acknowledged records, all in the sink, %d duplicates", len(acked), dups)
	if len(acked) == 0 {
		t.Fatal("no record was acknowledged: the crash points came too early")
	}
}

func crashChild(t *testing.T, dir, mode string, from int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "ESM_CRASH_CHILD="+dir, "ESM_CRASH_MODE="+mode, "ESM_CRASH_FROM="+strconv.Itoa(from))
	return cmd
}

// TestCrashChild is the child process of TestCrashSIGKILL.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("ESM_CRASH_CHILD")
	if dir == "" {
		return // only TestCrashSIGKILL's child process runs it; no skip to report
	}
	engine, err := streams.Open(filepath.Join(dir, "stream"), streams.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CreateStream(context.Background(), "crash", 2); err != nil && !errors.Is(err, streams.ErrStreamExists) {
		t.Fatal(err)
	}
	store, err := checkpoint.OpenFileStore(filepath.Join(dir, "cp"))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := openFileSink(filepath.Join(dir, "sink.log"))
	if err != nil {
		t.Fatal(err)
	}
	fn, _ := runtime.New(runtime.Config{Name: "Echo"}, echo)
	m, err := kt.New(kt.Config{ID: "crash", FunctionName: "Echo", StreamName: "crash", BatchSize: 50, ParallelizationFactor: 3, StartingPosition: "TRIM_HORIZON"},
		engine.Client(), fn, sink, store, kt.Options{PollInterval: 10 * time.Millisecond, RetryBaseDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go m.Run(ctx)
	if os.Getenv("ESM_CRASH_MODE") == "load" {
		from, _ := strconv.Atoi(os.Getenv("ESM_CRASH_FROM"))
		ackf, err := os.OpenFile(filepath.Join(dir, "acked.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		for i := from; ; i += 20 { // until killed
			var entries []types.PutRecordsRequestEntry
			var ids bytes.Buffer
			for j := i; j < i+20; j++ {
				entries = append(entries, types.PutRecordsRequestEntry{Data: []byte(strconv.Itoa(j)), PartitionKey: aws.String(fmt.Sprint("k", j%17))})
				fmt.Fprintln(&ids, j)
			}
			out, err := engine.Client().PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("crash"), Records: entries})
			if err == nil && aws.ToInt32(out.FailedRecordCount) == 0 {
				ackf.Write(ids.Bytes())
				ackf.Sync()
			}
			time.Sleep(2 * time.Millisecond) // the load's pace
		}
	}
	// drain: wait until the sink holds every acknowledged record.
	want := readAcked(t, dir)
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen := sink.seen()
		missing := 0
		for _, r := range want {
			if seen[r] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged records never reached the sink", missing)
		}
		<-sink.changed
	}
	cancel()
}

func readAcked(t *testing.T, dir string) []string {
	data, err := os.ReadFile(filepath.Join(dir, "acked.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// fileSink is a durable handover.Acceptor: one fsynced JSON line per batch,
// with the checkpoint it completes. A torn last line (a crash mid-write) is
// cut off when the file is opened.
type fileSink struct {
	mu      sync.Mutex
	f       *os.File
	cps     map[string]string
	counts  map[string]int
	changed chan struct{}
}

type sinkLine struct {
	ID, CP string
	Recs   []string
}

func openFileSink(path string) (*fileSink, error) {
	data, _ := os.ReadFile(path)
	s := &fileSink{cps: map[string]string{}, counts: map[string]int{}, changed: make(chan struct{}, 1)}
	good := 0
	for len(data[good:]) > 0 {
		i := bytes.IndexByte(data[good:], '\n')
		if i < 0 {
			break
		}
		var l sinkLine
		if json.Unmarshal(data[good:good+i], &l) != nil {
			break
		}
		s.apply(l)
		good += i + 1
	}
	if err := os.Truncate(path, int64(good)); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	s.f = f
	return s, err
}

func (s *fileSink) apply(l sinkLine) {
	if l.CP != "" {
		s.cps[l.ID] = l.CP
	}
	for _, r := range l.Recs {
		s.counts[r]++
	}
}

func (s *fileSink) Accept(_ context.Context, b handover.Batch) error {
	l := sinkLine{ID: b.Source.ID, CP: b.Source.Checkpoint}
	for _, r := range b.Records {
		l.Recs = append(l.Recs, string(r.Data))
	}
	data, _ := json.Marshal(l)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(append(data, '\n')); err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.apply(l)
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return nil
}

func (s *fileSink) Checkpoint(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cps[id]
}

func (s *fileSink) seen() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

func readSinkFile(t *testing.T, path string) map[string]int {
	s, err := openFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	s.f.Close()
	return s.counts
}

// TestFileSinkConforms holds the crash test's durable acceptor to the
// hand-over contract, so what the crash test proves holds for a real one.
func TestFileSinkConforms(t *testing.T) {
	handovertest.Run(t, func(t *testing.T) handovertest.Instance {
		path := filepath.Join(t.TempDir(), "sink.jsonl")
		s, err := openFileSink(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.f.Close() })
		return handovertest.Instance{Acceptor: s, Reopen: func(t *testing.T) handover.Acceptor {
			s.f.Close()
			if s, err = openFileSink(path); err != nil {
				t.Fatal(err)
			}
			return s
		}}
	})
}
