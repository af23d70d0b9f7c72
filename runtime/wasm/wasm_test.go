package wasm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/wasm"
)

// cacheDir keeps builds and compiled code across the tests of this package.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-wasm-test-*")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Map // dir → *buildResult
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// buildGuest builds a Go function in dir as a WASM module, once per run.
func buildGuest(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := buildOnce.LoadOrStore(abs, &buildResult{})
	br := v.(*buildResult)
	br.once.Do(func() {
		res, err := (&wasm.Builder{CacheDir: filepath.Join(cacheDir, "modules")}).Build(context.Background(), filepath.Base(abs), abs)
		br.path, br.err = res.Path, err
	})
	if br.err != nil {
		t.Fatalf("build %s: %v", dir, br.err)
	}
	return br.path
}

func options() wasm.Options {
	// Under the race detector wazero's compiler needs minutes for a Go
	// guest; the interpreter enforces the same limits. Benchmarks and
	// non-race runs use the compiler.
	return wasm.Options{CompileCacheDir: filepath.Join(cacheDir, "compiled"), Interpreter: raceEnabled}
}

func loadGuest(t testing.TB, path string, cfg runtime.Config) *runtime.Function {
	t.Helper()
	fn, err := wasm.Load(context.Background(), path, cfg, options())
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return fn
}

// kinesisEvent returns a Kinesis event JSON with one record per payload.
func kinesisEvent(payloads ...string) []byte {
	ev := events.KinesisEvent{}
	for i, p := range payloads {
		seq := fmt.Sprintf("4965%052d", i+1)
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			EventSource: "aws:kinesis", EventVersion: "1.0", EventName: "aws:kinesis:record",
			EventID:           "shardId-000000000000:" + seq,
			InvokeIdentityArn: "arn:aws:iam::000000000000:role/fn-role", AwsRegion: "us-east-1",
			EventSourceArn: "arn:aws:kinesis:us-east-1:000000000000:stream/s",
			Kinesis: events.KinesisRecord{
				KinesisSchemaVersion: "1.0", PartitionKey: fmt.Sprintf("pk-%d", i), SequenceNumber: seq,
				Data:                        []byte(p),
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: time.Unix(1767323045, 678000000)},
			},
		})
	}
	b, _ := json.Marshal(ev)
	return b
}

func invokeErr(t *testing.T, fn *runtime.Function, payload []byte) *runtime.InvokeError {
	t.Helper()
	out, err := fn.Invoke(context.Background(), payload)
	var ie *runtime.InvokeError
	if !errors.As(err, &ie) {
		t.Fatalf("want an InvokeError, got %s, %v", out, err)
	}
	return ie
}

// TestFaults: every way a guest can fail becomes the right Lambda-shaped
// error, and the function keeps serving afterwards.
func TestFaults(t *testing.T) {
	path := buildGuest(t, "../testdata/kfn")
	tests := []struct {
		payload, wantType, wantMsg string
		timeout                    time.Duration
	}{
		{"fail", "errorString", "asked to fail", time.Second},
		{"panic", "Runtime.Panic", "asked to panic", time.Second},
		{"nil", "Runtime.Panic", "nil pointer dereference", time.Second},
		{"trap", "Runtime.Trap", "unreachable", time.Second},
		{"crash", "Runtime.ExitError", "exit status 2 (guest output: panic: crashed on another goroutine", time.Second},
		{"spin", "Sandbox.Timedout", "Task timed out after 1.00 seconds", time.Second},
		// A long timeout: under the race detector the interpreter takes
		// seconds to fill 32 MB.
		{"bomb", "Runtime.OutOfMemory", "memory limit of 32 MB", time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.payload, func(t *testing.T) {
			fn := loadGuest(t, path, runtime.Config{Name: "Kfn", Timeout: tc.timeout, MemoryMB: 32})
			ie := invokeErr(t, fn, kinesisEvent("ok", tc.payload))
			if ie.Type != tc.wantType || !strings.Contains(ie.Message, tc.wantMsg) {
				t.Errorf("got %s: %s; want %s containing %q", ie.Type, ie.Message, tc.wantType, tc.wantMsg)
			}
			out, err := fn.Invoke(context.Background(), kinesisEvent("still here"))
			if err != nil || !strings.Contains(string(out), "U1RJTEwgSEVSRQ==") { // base64 "STILL HERE"
				t.Fatalf("after %s: %s, %v", tc.payload, out, err)
			}
		})
	}
}

// TestSandbox: a guest gets no file system, no network and none of the
// host's environment, only its own variables.
func TestSandbox(t *testing.T) {
	t.Setenv("HOME", "/root-of-the-host")
	fn := loadGuest(t, buildGuest(t, "../testdata/kfn"), runtime.Config{Name: "Kfn", Timeout: 5 * time.Second, Env: map[string]string{"GREETING": "hi"}})
	out, err := fn.Invoke(context.Background(), kinesisEvent("file", "env", "dial", "ctx"))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Records []struct{ Data []byte }
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"FILE: DENIED",
		"HOME= PATH=",
		"DIAL: DENIED",
		"RID=YES ARN=ARN:AWS:LAMBDA:US-EAST-1:000000000000:FUNCTION:KFN DEADLINE=YES ERR=OK DONE=YES NAME=KFN MEMORY=128 GREETING=HI",
	}
	if len(resp.Records) != len(want) {
		t.Fatalf("response %s", out)
	}
	for i, w := range want {
		if got := string(resp.Records[i].Data); got != w {
			t.Errorf("record %d = %q, want %q", i, got, w)
		}
	}
}

func TestMountGrantsFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hostname"), []byte("granted"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := options()
	opts.Mounts = map[string]string{"/etc": dir}
	fn, err := wasm.Load(context.Background(), buildGuest(t, "../testdata/kfn"), runtime.Config{Name: "Kfn"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := fn.Invoke(context.Background(), kinesisEvent("file"))
	if err != nil || !strings.Contains(string(out), `"RklMRTogT0s="`) { // base64 "FILE: OK"
		t.Fatalf("got %s, %v", out, err)
	}
}

// TestMountCannotBeLeftThroughLinks: a mount's directory sits beside the
// function's code, so a hostile function can ship symbolic links in it.
// Links that leave the directory (relative, absolute, or through a chain
// of links) are refused; one that stays inside works. (wazero's directory
// mount followed them: a guest read the host's /etc/passwd.)
func TestMountCannotBeLeftThroughLinks(t *testing.T) {
	path := buildGuest(t, "../testdata/kfn")
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("the host's"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		links map[string]string // link → target, inside the mount
		want  string            // what the guest reports for /etc/hostname
	}{
		{"absolute", map[string]string{"hostname": secret}, "escape"},
		{"relative", map[string]string{"hostname": "RELATIVE"}, "escape"}, // ../../…/secret, made below
		{"chained", map[string]string{"hostname": "hop", "hop": secret}, "escape"},
		{"directory", map[string]string{"hostname": "up/secret", "up": filepath.Dir(secret)}, "escape"},
		{"inside", map[string]string{"hostname": "real/name"}, "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "real", "name"), []byte("granted"), 0o644); err != nil {
				t.Fatal(err)
			}
			for link, target := range tc.links {
				if target == "RELATIVE" {
					rel, err := filepath.Rel(dir, secret)
					if err != nil {
						t.Fatal(err)
					}
					target = rel
				}
				if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
					t.Fatal(err)
				}
			}
			opts := options()
			opts.Mounts = map[string]string{"/etc": dir}
			fn, err := wasm.Load(context.Background(), path, runtime.Config{Name: "Kfn", Timeout: 30 * time.Second}, opts)
			if err != nil {
				t.Fatal(err)
			}
			out, err := fn.Invoke(context.Background(), kinesisEvent("file"))
			if err != nil {
				t.Fatal(err)
			}
			read := strings.Contains(string(out), `"RklMRTogT0s="`) // base64 "FILE: OK"
			if tc.want == "ok" && !read {
				t.Errorf("a link inside the mount was refused: %s", out)
			}
			if tc.want == "escape" && read {
				t.Errorf("the guest read a file outside its mount through %v", tc.links)
			}
		})
	}
}

// TestLogsArePerRequest: what a guest writes reaches the function's log
// prefixed with the request ID of the invocation that wrote it.
func TestLogsArePerRequest(t *testing.T) {
	var logs syncBuffer
	fn := loadGuest(t, buildGuest(t, "../testdata/kfn"), runtime.Config{Name: "Kfn", Logs: &logs, Timeout: 30 * time.Second})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := fn.Invoke(context.Background(), kinesisEvent("log")); err != nil {
				t.Error(i, err)
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 log lines, got %q", logs.String())
	}
	seen := map[string]bool{}
	for _, l := range lines {
		rid, msg, ok := strings.Cut(l, "\t")
		if !ok || len(rid) != 36 || msg != "hello from pk-0" || seen[rid] {
			t.Errorf("log line %q", l)
		}
		seen[rid] = true
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStopModes: a timeout stops a spinning guest and a sleeping one, with
// the interrupt global (compiler: the module is instrumented) and with
// wazero's close-on-context-done checks (interpreter), and the function
// keeps serving. The hand-written guest compiles in milliseconds even under
// the race detector, so both modes run in every build.
func TestStopModes(t *testing.T) {
	code, err := os.ReadFile("../testdata/watfn/upper.wasm")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts wasm.Options
		want wasm.StopMode
	}{
		{"compiler", wasm.Options{CompileCacheDir: "off"}, wasm.StopInterrupt},
		{"interpreter", wasm.Options{CompileCacheDir: "off", Interpreter: true}, wasm.StopCloseOnDone},
		{"soft", wasm.Options{CompileCacheDir: "off", SoftTimeout: true}, wasm.StopAbandon},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := runtime.Config{Name: "Upper", Timeout: 500 * time.Millisecond, MemoryMB: 16}
			mod, err := wasm.NewModule(context.Background(), code, cfg, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer mod.Close(context.Background())
			if mod.StopMode() != tc.want {
				t.Fatalf("stop mode %q, want %q", mod.StopMode(), tc.want)
			}
			if tc.want == wasm.StopAbandon {
				return // an abandoned guest spins on: nothing to wait for
			}
			fn := runtime.NewWithEngine(cfg, mod)
			for _, payload := range []string{"spin", "naps"} {
				ie := invokeErr(t, fn, kinesisEvent("ok", payload))
				if ie.Type != "Sandbox.Timedout" {
					t.Errorf("%s: got %s: %s; want Sandbox.Timedout", payload, ie.Type, ie.Message)
				}
				if out, err := fn.Invoke(context.Background(), kinesisEvent("again")); err != nil || !strings.Contains(string(out), "QUdBSU4=") { // base64 "AGAIN"
					t.Fatalf("after %s: %s, %v", payload, out, err)
				}
			}
		})
	}
}

// TestKeptEventSurvivesLaterRequests: a handler that keeps part of its
// event (here a record's data and partition key) still sees it intact after
// later, larger invocations. The Go guest decodes in place, so this is what
// proves that nothing it decodes aliases the buffer the host reuses.
func TestKeptEventSurvivesLaterRequests(t *testing.T) {
	fn := loadGuest(t, buildGuest(t, "../testdata/kfn"), runtime.Config{Name: "Kfn", Timeout: time.Minute})
	if _, err := fn.Invoke(context.Background(), kinesisEvent("keep")); err != nil {
		t.Fatal(err)
	}
	filler := make([]string, 100)
	for i := range filler {
		filler[i] = strings.Repeat(fmt.Sprintf("overwrite %d ", i), 80)
	}
	for range 10 { // enough garbage for the guest to collect
		if _, err := fn.Invoke(context.Background(), kinesisEvent(filler...)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := fn.Invoke(context.Background(), kinesisEvent("recall"))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct{ Records []struct{ Data []byte } }
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Records) != 1 {
		t.Fatalf("response %s, %v", out, err)
	}
	if got := string(resp.Records[0].Data); got != "RECALL: KEEP PK-0" {
		t.Errorf("recalled %q, want %q", got, "RECALL: KEEP PK-0")
	}
}

// TestUninstrumentableModule: a module the host cannot rewrite (here: it
// exports the reserved name itself) still loads and serves, stopped by
// wazero's checks instead, and the module says why.
func TestUninstrumentableModule(t *testing.T) {
	code, err := os.ReadFile("../testdata/watnoop/reserved.wasm")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := wasm.NewModule(context.Background(), code, runtime.Config{Name: "Reserved"}, wasm.Options{CompileCacheDir: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(context.Background())
	if mod.StopMode() != wasm.StopCloseOnDone || !strings.Contains(mod.StopNote(), `already exports "sluice.interrupt"`) {
		t.Errorf("stop mode %q, note %q", mod.StopMode(), mod.StopNote())
	}
	ev := decode(t, clickEvent(3))
	inv := &runtime.Invocation{RequestID: "r", FunctionARN: "arn", Deadline: time.Now().Add(time.Minute), Log: discard{}}
	resp, err := mod.CallKinesis(context.Background(), inv, &ev)
	if err != nil || len(resp.Response.Records) != 0 || resp.Response.BatchItemFailures != nil {
		t.Errorf("got %+v, %v; want the empty response", resp, err)
	}
}

// TestGuestTimeFollowsTheFunctionClock: a guest reads the time of day from
// the function's clock, as the host does. On a fake clock far from the wall
// clock, the deadline the host sends (fake now + timeout) is still in the
// guest's future, so its context has not already expired.
func TestGuestTimeFollowsTheFunctionClock(t *testing.T) {
	fake := clock.NewFake(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	fn := loadGuest(t, buildGuest(t, "../testdata/kfn"), runtime.Config{Name: "Kfn", Timeout: 5 * time.Second, Clock: fake})
	out, err := fn.Invoke(context.Background(), kinesisEvent("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	var resp struct{ Records []struct{ Data []byte } }
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Records) != 1 {
		t.Fatalf("response %s, %v", out, err)
	}
	if got := string(resp.Records[0].Data); !strings.Contains(got, "ERR=OK") {
		t.Fatalf("the guest's context on a fake clock: %q, want ERR=OK", got)
	}
}
