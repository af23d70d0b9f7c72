package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/harness"
	"github.com/sluice-dev/sluice/internal/hostile"
)

// TestHostileClientsCannotTakeThePipelineDown runs the clickstream pipeline
// with SigV4 verification on, two normal producers, and a crowd of hostile
// clients (internal/hostile: header-only and trickled bodies, idle and
// flooding connections, HTTP/2 stream floods, forged, replayed and
// wrong-Host requests, oversized and mutated bodies) dialing from their own
// loopback address, for SLUICE_HOSTILE_SECONDS (8 in `make test`, 60 in
// `make chaos-hostile`). Every click a producer saw acknowledged must be
// delivered, every attack must be refused the way the front door promises,
// the stream must survive, and sluice's peak RSS must stay under
// SLUICE_HOSTILE_RSS_MB.
func TestHostileClientsCannotTakeThePipelineDown(t *testing.T) {
	seconds := envInt("SLUICE_HOSTILE_SECONDS", 8)
	rssBoundMB := envInt("SLUICE_HOSTILE_RSS_MB", 768)
	const ak, sk = "AKIDSLUICE", "sluice" // what samples/clickstream signs with
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, sluiceBin, nil,
		"-t", filepath.Join(repoRoot, "template.yaml"),
		"--state-dir", state,
		"--kinesis-addr", "127.0.0.1:0",
		"--kinesis-tls-addr", "127.0.0.1:0",
		"--control-addr", "127.0.0.1:0",
		"--max-buffer-interval", "1s",
		"--parameter-overrides", "AnomalyWindowSeconds=2",
		"--verify-sigv4", ak+":"+sk,
		// Short enough that a held request is seen to be cut off within
		// one attack; the per-client cap falls on the attackers' address.
		"--read-timeout", "5s",
		"--idle-timeout", "5s",
		"--max-conns-per-client", "300",
		"--max-inflight-bytes", strconv.Itoa(64<<20),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice log (last 8 KiB):\n%s", tail(s.Log(), 8<<10))
		}
	})
	baseline := procStatusKB(t, s.PID(), "VmRSS")

	// Normal producers, from 127.0.0.1, for the whole soak.
	var acked []string
	var producers []*producer
	for i := range 2 {
		p := startProducer(t, s.Endpoints.Kinesis, filepath.Join(t.TempDir(), fmt.Sprintf("acked-%d", i)), int64(i+1))
		producers = append(producers, p)
	}

	target := &hostile.Target{
		// The ready line names the TLS address; the certificate to trust
		// is in the state dir.
		API: s.Endpoints.Kinesis, APITLS: s.Endpoints.KinesisTLS, CAFile: filepath.Join(state, app.TLSCertFile),
		Control: s.Endpoints.Control, Stream: "clickstream", AccessKey: ak, Secret: sk,
		SourceIP: "127.0.0.66",
	}
	soak, stop := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer stop()
	var peakRSS int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // sample RSS; VmHWM gives the true peak at the end
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for soak.Err() == nil {
			peakRSS = max(peakRSS, procStatusKB(t, s.PID(), "VmRSS"))
			select {
			case <-tick.C:
			case <-soak.Done():
			}
		}
	}()
	attacks := hostile.All(target)
	if !slices.ContainsFunc(attacks, func(a hostile.Attack) bool { return a.Name == "h2-flood" }) {
		t.Fatalf("no HTTP/2 flood: the TLS listener (%q) or its certificate was not found", target.APITLS)
	}
	stats := hostile.Run(soak, target, 12, attacks)
	wg.Wait()
	hwm := procStatusKB(t, s.PID(), "VmHWM")
	t.Logf("attacks over %d s:\n%s", seconds, stats)
	t.Logf("sluice RSS: %d MiB before the attack, %d MiB sampled peak during it, %d MiB lifetime peak (VmHWM); bound %d MiB",
		baseline>>10, peakRSS>>10, hwm>>10, rssBoundMB)
	for _, f := range stats.Failures {
		t.Errorf("attack not refused as promised: %s", f)
	}
	if hwm>>10 > rssBoundMB {
		t.Errorf("sluice's peak RSS was %d MiB, over the %d MiB bound", hwm>>10, rssBoundMB)
	}

	for _, p := range producers {
		acked = append(acked, p.stop(t)...)
	}
	if len(acked) == 0 {
		t.Fatal("the producers got nothing acknowledged during the attack")
	}

	// The stream survived the wrong-Host and replayed DeleteStream calls,
	// and the refusals were counted.
	client := kinesis.New(kinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoints.Kinesis),
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""),
	})
	dctx, dcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer dcancel()
	last, err := harness.LastSequenceNumbers(dctx, client, "clickstream")
	if err != nil {
		t.Fatalf("reading the stream after the attack: %v", err)
	}
	assertRefusalsCounted(t, s.Endpoints.Control)
	if err := harness.WaitCheckpointed(dctx, state, last); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	seen, err := harness.Delivered(filepath.Join(state, "buckets", "clickstream-archive"))
	if err != nil {
		t.Fatal(err)
	}
	if n := harness.Missing(acked, seen); n > 0 {
		t.Errorf("%d of %d acknowledged clicks were not delivered", n, len(acked))
	}
	t.Logf("%d clicks acknowledged during the attack, all delivered", len(acked))
}

// producer is samples/clickstream writing until stopped.
type producer struct {
	cmd   *exec.Cmd
	acked string
}

func startProducer(t *testing.T, endpoint, acked string, seed int64) *producer {
	t.Helper()
	cmd := generate(t, endpoint, 0, acked, "-rate", "1500", "-seed", strconv.FormatInt(seed, 10))
	return &producer{cmd: cmd, acked: acked}
}

// stop interrupts the producer (it finishes the batch in flight) and returns
// the event IDs it saw acknowledged.
func (p *producer) stop(t *testing.T) []string {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("producer: %v\n%s", err, p.cmd.Stderr)
	}
	ids, err := harness.ReadLines(p.acked)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// procStatusKB reads a kB field of /proc/<pid>/status.
func procStatusKB(t *testing.T, pid int, field string) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("sluice is gone: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// assertRefusalsCounted checks /metrics counted the refusals.
func assertRefusalsCounted(t *testing.T, control string) {
	t.Helper()
	counted := refusals(t, control) // "cause/listener" → count
	t.Logf("refusals counted in /metrics by cause/listener: %v", counted)
	if len(counted) == 0 {
		t.Error("/metrics counts no refusals after the attack")
	}
}
