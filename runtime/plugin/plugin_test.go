package plugin_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/plugin"
)

// sharedCache keeps plugin builds across the tests of this package.
var sharedCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-plugin-test-*")
	if err != nil {
		panic(err)
	}
	sharedCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildEcho(t *testing.T) (plugin.Result, *runtime.Function) {
	t.Helper()
	dir, err := filepath.Abs("testdata/echo")
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	b := &plugin.Builder{CacheDir: sharedCache, Progress: &progress}
	res, err := b.Build(context.Background(), "Echo", dir)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	h, err := plugin.Load(res.Path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	fn, err := runtime.New(runtime.Config{Name: "Echo", Timeout: 2 * time.Second, Env: map[string]string{"GREETING": "hello"}}, h)
	if err != nil {
		t.Fatal(err)
	}
	return res, fn
}

func TestBuildLoadInvoke(t *testing.T) {
	res, fn := buildEcho(t)
	out, err := fn.Invoke(context.Background(), []byte(`{"say":"hi"}`))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	if got, want := string(out), `{"said":"hi","greeting":"hello"}`; got != want {
		t.Errorf("response = %s, want %s", got, want)
	}

	// A second build of unchanged sources is a cache hit at the same path.
	dir, _ := filepath.Abs("testdata/echo")
	hit, err := (&plugin.Builder{CacheDir: sharedCache, GoCommand: "/nonexistent/go"}).Build(context.Background(), "Echo", dir)
	if err != nil {
		t.Fatalf("cached build ran the toolchain: %v", err)
	}
	if !hit.Cached || hit.Path != res.Path {
		t.Errorf("cache miss for unchanged sources: %+v vs %+v", hit, res)
	}
}

func TestFailuresAreLambdaShaped(t *testing.T) {
	_, fn := buildEcho(t)
	tests := []struct {
		say, wantType, wantMsg string
	}{
		{"fail", "errorString", "asked to fail"},
		{"panic", "Runtime.Panic", "asked to panic"},
		{"hang", "Sandbox.Timedout", "Task timed out after 2.00 seconds"},
	}
	for _, tc := range tests {
		t.Run(tc.say, func(t *testing.T) {
			_, err := fn.Invoke(context.Background(), []byte(`{"say":"`+tc.say+`"}`))
			var ie *runtime.InvokeError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is not an InvokeError", err)
			}
			if ie.Type != tc.wantType || !strings.Contains(ie.Message, tc.wantMsg) {
				t.Errorf("got %s: %s; want %s containing %q", ie.Type, ie.Message, tc.wantType, tc.wantMsg)
			}
		})
	}
	// The host keeps serving after every failure.
	if out, err := fn.Invoke(context.Background(), []byte(`{"say":"still here"}`)); err != nil || !strings.Contains(string(out), "still here") {
		t.Fatalf("after failures: %s, %v", out, err)
	}
	if !fn.Unhealthy() {
		t.Error("a timed-out plugin call should mark the function unhealthy")
	}
}

func TestMismatchedPluginIsRefused(t *testing.T) {
	host, err := plugin.HostFingerprint()
	if err != nil {
		t.Fatal(err)
	}
	var deps []string
	for mod := range host.Deps {
		deps = append(deps, mod)
	}
	if len(deps) == 0 {
		// go test stamps no module dependencies into a test binary: give the
		// host the version of the module the plugin disagrees on.
		host.Deps = map[string]string{"github.com/aws/aws-lambda-go": "v1.55.1"}
	}
	plug := plugin.Fingerprint{GoVersion: host.GoVersion, Settings: host.Settings, Deps: map[string]string{"github.com/aws/aws-lambda-go": "v1.0.0"}}
	err = plugin.Compare(host, plug, "fn.so")
	var mm *plugin.MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("want MismatchError, got %v", err)
	}
	if !strings.Contains(err.Error(), "github.com/aws/aws-lambda-go v1.0.0, the host has") || !strings.Contains(err.Error(), "sluice build") {
		t.Errorf("message does not say what to rebuild: %v", err)
	}
}

// TestInfiniteLoopTimesOut: a plugin call stuck in a busy loop cannot be
// stopped, so it is abandoned at the function's Timeout with Lambda's
// timeout error, counted, and the function marked unhealthy, while the host
// keeps serving other calls on the same function.
func TestInfiniteLoopTimesOut(t *testing.T) {
	res, _ := buildEcho(t)
	h, err := plugin.Load(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := runtime.New(runtime.Config{Name: "Echo", Timeout: 500 * time.Millisecond}, h)
	if err != nil {
		t.Fatal(err)
	}
	// Whatever happens below, release the spinning goroutine.
	defer fn.Invoke(context.Background(), []byte(`{"say":"stop"}`)) //nolint:errcheck

	if fn.Unhealthy() {
		t.Fatal("a fresh function is already unhealthy")
	}
	_, err = fn.Invoke(context.Background(), []byte(`{"say":"spin"}`))
	var ie *runtime.InvokeError
	if !errors.As(err, &ie) || ie.Type != "Sandbox.Timedout" || !strings.Contains(ie.Message, "Task timed out after 0.50 seconds") {
		t.Fatalf("got %v, want Sandbox.Timedout after 0.50 seconds", err)
	}
	if ie.RequestID == "" || !strings.HasPrefix(ie.Message, ie.RequestID) {
		t.Errorf("timeout message %q does not start with the request ID %q, as Lambda's does", ie.Message, ie.RequestID)
	}
	if !fn.Unhealthy() {
		t.Error("the abandoned call did not mark the function unhealthy")
	}
	if got := fn.Stats().Timeouts; got != 1 {
		t.Errorf("timeouts = %d, want 1", got)
	}
	// The loop is still running on its goroutine; other calls are served.
	for _, say := range []string{"one", "two"} {
		out, err := fn.Invoke(context.Background(), []byte(`{"say":"`+say+`"}`))
		if err != nil || !strings.Contains(string(out), `"said":"`+say+`"`) {
			t.Fatalf("while the loop runs: %s, %v", out, err)
		}
	}
}
