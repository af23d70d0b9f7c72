// Package testpeers starts independent Kinesis implementations for tests:
// kinesalite and kinesis-local (kinesis-mock), both installed from npm into
// tools/npm by `make deps` (npm ci). Testing Sluice against implementations
// it did not write keeps both sides honest: a client bug cannot hide behind
// a matching server bug.
//
// Each server runs as a child process on a free port on 127.0.0.1 and is
// killed when the test ends. tools/npm/loopback.cjs is preloaded into node
// because neither emulator can be told which address to bind and both
// default to every interface.
package testpeers

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// Kinesalite starts kinesalite 3.3.3 (in memory, streams ACTIVE after 50 ms)
// and returns its endpoint, e.g. http://127.0.0.1:43121. It has no
// throttling, no UpdateShardCount and no enhanced fan-out.
func Kinesalite(t testing.TB) (endpoint string) {
	t.Helper()
	dir := npmDir(t)
	return start(t, "kinesalite", 10*time.Second, func(ports []int) *exec.Cmd {
		cmd := exec.Command("node", "--require", "./loopback.cjs",
			filepath.Join("node_modules", "kinesalite", "cli.js"),
			"--port", strconv.Itoa(ports[0]), "--createStreamMs", "50",
			"--deleteStreamMs", "50", "--updateStreamMs", "50")
		cmd.Dir = dir
		return cmd
	}, 1)
}

// KinesisLocal starts kinesis-local 0.6.2 (etspaceman/kinesis-mock, the
// emulator LocalStack uses) and returns its plain-HTTP endpoint. Unlike
// kinesalite it throttles, supports UpdateShardCount and enhanced fan-out,
// but slows down as a stream fills: keep its tests small. CreateStream takes
// about 0.6 s to reach ACTIVE.
func KinesisLocal(t testing.TB) (endpoint string) {
	t.Helper()
	dir := npmDir(t)
	return start(t, "kinesis-local", 30*time.Second, func(ports []int) *exec.Cmd {
		cmd := exec.Command("node", "--require", "./loopback.cjs",
			filepath.Join("node_modules", "kinesis-local", "main.js"))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			// It dies at start-up without a TLS certificate, even though
			// tests only use the plain port.
			"KINESIS_MOCK_CERT_PATH="+filepath.Join(dir, "node_modules", "kinesis-local", "server.json"),
			"KINESIS_MOCK_PLAIN_PORT="+strconv.Itoa(ports[0]),
			"KINESIS_MOCK_TLS_PORT="+strconv.Itoa(ports[1]),
			"LOG_LEVEL=WARN",
		)
		return cmd
	}, 2)
}

// RepoRoot returns the directory holding the module's go.mod, found by
// walking up from the working directory (a test's package directory).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("testpeers: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testpeers: no go.mod above the working directory")
		}
		dir = parent
	}
}

// npmDir returns tools/npm, failing the test with the fix if the packages
// are not installed.
func npmDir(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("testpeers: node is not installed (Node.js 20 or later runs the Kinesis emulators)")
	}
	dir := filepath.Join(RepoRoot(t), "tools", "npm")
	for _, p := range []string{"node_modules/kinesalite/cli.js", "node_modules/kinesis-local/main.js"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatalf("testpeers: %s is missing: run `make deps` (npm ci in tools/npm)", filepath.Join("tools/npm", p))
		}
	}
	return dir
}

// start runs the command built by mk on nports free ports and waits until
// it listens on the first. A port found free can be taken by someone else
// before the server binds it, so a server that exits during start-up is
// retried on new ports a few times.
func start(t testing.TB, name string, timeout time.Duration, mk func(ports []int) *exec.Cmd, nports int) string {
	t.Helper()
	var lastErr error
	for range 3 {
		ports, err := freePorts(nports)
		if err != nil {
			t.Fatalf("testpeers: %s: %v", name, err)
		}
		p, err := launch(mk(ports), timeout, ports[0])
		if err == nil {
			t.Cleanup(p.stop)
			return "http://127.0.0.1:" + strconv.Itoa(ports[0])
		}
		lastErr = err
		if !errors.Is(err, errExited) {
			break
		}
	}
	t.Fatalf("testpeers: start %s: %v", name, lastErr)
	return ""
}

var errExited = errors.New("exited during start-up")

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// lockedBuffer collects the child's output for error messages; the exec
// package copies into it from its own goroutines. It closes seen once the
// output holds want.
type lockedBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() <= 64<<10 { // enough to diagnose; don't grow without bound
		b.buf.Write(p)
	}
	// Past the cap the line can still arrive: look in what was just written.
	if b.want != "" && (bytes.Contains(b.buf.Bytes(), []byte(b.want)) || bytes.Contains(p, []byte(b.want))) {
		close(b.seen)
		b.want = ""
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// launch starts cmd and waits for tools/npm/loopback.cjs, preloaded into
// it, to report that the server listens on port. Polling the port instead
// can be fooled: a port found free may be taken by another process (a
// concurrent test's server) before the emulator binds it; the emulator then
// dies with EADDRINUSE while the dial succeeds against the other process.
func launch(cmd *exec.Cmd, timeout time.Duration, port int) (*proc, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	out := &lockedBuffer{want: "loopback.cjs: listening on " + addr + "\n", seen: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", cmd.Path, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(p.done)
	}()
	// The peer is another process on real time: wait on the wall clock.
	timer := clock.Real().NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-out.seen:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%w (%v): %s", errExited, waitErr, out.String())
	case <-timer.Chan():
		p.stop()
		return nil, fmt.Errorf("not listening on %s after %v: %s", addr, timeout, out.String())
	}
}

func (p *proc) stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment
// ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
