package streams

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

const crashChildEnv = "SLUICE_STREAMS_CRASH_CHILD_DIR"

// TestCrashChild is the child process of TestCrashKill9: it serves the API
// over the directory named in the environment until it is killed.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		return // only TestCrashKill9's child process serves; no skip to report
	}
	e, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	if err := e.CreateStream(context.Background(), "crash", 4); err != nil && !errors.Is(err, ErrStreamExists) {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", ln.Addr().String())
	http.Serve(ln, e.Handler())
}

type acked struct{ shard, seq, data string }

// TestCrashKill9 SIGKILLs a process serving PutRecords under load and
// checks that every record it acknowledged is readable after a restart, in
// order and exactly once.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		// Round two restarts over the recovered directory, so recovery of a
		// log that was itself recovered is covered too.
		runCrashRound(t, dir, round)
	}
	verifyAcked(t, dir)
}

var ackedByRound sync.Map // dir → []acked

func runCrashRound(t *testing.T, dir string, round int) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	sc := bufio.NewScanner(stdout)
	var addr string
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			addr = a
			break
		}
		if strings.HasPrefix(sc.Text(), "ERR") {
			t.Fatal(sc.Text())
		}
	}
	if addr == "" {
		cmd.Process.Kill()
		t.Fatal("child printed no address")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	c := sdkClientFor("http://" + addr)

	var mu sync.Mutex
	var acks []acked
	enough := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; ; b++ {
				recs := make([]types.PutRecordsRequestEntry, 50)
				for i := range recs {
					d := fmt.Sprintf("r%d-w%d-b%d-i%d", round, w, b, i)
					recs[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(d), Data: []byte(d)}
				}
				out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("crash"), Records: recs})
				if err != nil {
					return // the child is gone
				}
				mu.Lock()
				for i, r := range out.Records {
					if r.ErrorCode == nil {
						acks = append(acks, acked{*r.ShardId, *r.SequenceNumber, string(recs[i].Data)})
					}
				}
				if len(acks) >= 5000 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}(w)
	}
	select {
	case <-enough:
	case <-time.After(20 * time.Second):
		t.Log("slow machine: killing before 5000 acknowledgements")
	}
	// Kill while writers are mid-request.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acks) == 0 {
		t.Fatal("no acknowledged records")
	}
	prev, _ := ackedByRound.Load(dir)
	all, _ := prev.([]acked)
	ackedByRound.Store(dir, append(all, acks...))
	t.Logf("round %d: %d records acknowledged before SIGKILL", round, len(acks))
}

func verifyAcked(t *testing.T, dir string) {
	v, _ := ackedByRound.Load(dir)
	acks := v.([]acked)
	e, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := e.Client()
	ctx := context.Background()
	bySeq := map[string]acked{}
	for _, a := range acks {
		bySeq[a.shard+"/"+a.seq] = a
	}
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		shard := shardID(uint32(i))
		it := iter(t, c, "crash", shard, types.ShardIteratorTypeTrimHorizon, "", nil)
		var last string
		for {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				if last != "" && bigOf(t, last).Cmp(bigOf(t, *r.SequenceNumber)) >= 0 {
					t.Fatalf("%s: out of order: %s after %s", shard, *r.SequenceNumber, last)
				}
				last = *r.SequenceNumber
				if seen[string(r.Data)] {
					t.Fatalf("record %s read twice", r.Data)
				}
				seen[string(r.Data)] = true
				if a, ok := bySeq[shard+"/"+*r.SequenceNumber]; ok && a.data != string(r.Data) {
					t.Fatalf("%s %s holds %q, acknowledged as %q", shard, *r.SequenceNumber, r.Data, a.data)
				}
			}
			if len(out.Records) == 0 {
				break
			}
			it = *out.NextShardIterator
		}
	}
	lost := 0
	for _, a := range acks {
		if !seen[a.data] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged records lost", lost, len(acks))
	}
	t.Logf("all %d acknowledged records recovered (%d stored in total)", len(acks), len(seen))
}

// TestTornTail damages the end of a segment the way a crash mid-write can
// and checks recovery serves every whole record and drops the torn one.
func TestTornTail(t *testing.T) {
	for _, damage := range []string{"garbage", "truncate", "zeros"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			e, err := Open(dir, Options{CreateDelay: -1})
			if err != nil {
				t.Fatal(err)
			}
			mustCreate(t, e, "torn", 1)
			c := e.Client()
			ctx := context.Background()
			var seqs []string
			for i := 0; i < 10; i++ {
				out, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("torn"), PartitionKey: aws.String("k"), Data: []byte(fmt.Sprintf("record-%d", i))})
				if err != nil {
					t.Fatal(err)
				}
				seqs = append(seqs, *out.SequenceNumber)
			}
			e.Close()
			segs, _ := filepath.Glob(filepath.Join(dir, "data", "*", "0", "*.seg"))
			if len(segs) != 1 {
				t.Fatalf("segments: %v", segs)
			}
			f, err := os.OpenFile(segs[0], os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := f.Stat()
			want := 10
			switch damage {
			case "garbage":
				f.WriteAt([]byte("\x30\x00\x00\x00garbage-that-is-not-a-frame"), st.Size())
			case "truncate":
				f.Truncate(st.Size() - 3) // cut into the last frame
				want = 9
			case "zeros":
				f.WriteAt(make([]byte, 4096), st.Size()) // preallocated, never written
			}
			f.Close()

			e2, err := Open(dir, Options{CreateDelay: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer e2.Close()
			c2 := e2.Client()
			it := iter(t, c2, "torn", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon, "", nil)
			out, err := c2.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Records) != want {
				t.Fatalf("recovered %d records, want %d", len(out.Records), want)
			}
			for i, r := range out.Records {
				if *r.SequenceNumber != seqs[i] || string(r.Data) != fmt.Sprintf("record-%d", i) {
					t.Fatalf("record %d = %s %q", i, *r.SequenceNumber, r.Data)
				}
			}
			// New writes land after the recovered tail and are readable.
			p, err := c2.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("torn"), PartitionKey: aws.String("k"), Data: []byte("after")})
			if err != nil {
				t.Fatal(err)
			}
			if bigOf(t, *p.SequenceNumber).Cmp(bigOf(t, seqs[want-1])) <= 0 {
				t.Fatalf("new sequence %s not after recovered %s", *p.SequenceNumber, seqs[want-1])
			}
			out, err = c2.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
			if err != nil || len(out.Records) != 1 || string(out.Records[0].Data) != "after" {
				t.Fatalf("read after recovery: %v %v", out, err)
			}
		})
	}
}
