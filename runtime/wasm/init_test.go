package wasm_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/wasm"
)

// A generous bound for "promptly": the tests assert that nothing hangs,
// never how fast a loaded machine is.
const prompt = 30 * time.Second

// loadInit loads code with an init phase of initTimeout and returns the
// function, its module and its log.
func loadInit(t *testing.T, code []byte, opts wasm.Options, cfg runtime.Config) (*runtime.Function, *wasm.Module, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logs = logs
	start := time.Now()
	mod, err := wasm.NewModule(context.Background(), code, cfg, opts)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { mod.Close(context.Background()) })
	if d := time.Since(start); d > prompt {
		t.Errorf("load took %s with a %s init phase", d, cfg.InitTimeout)
	}
	return runtime.NewWithEngine(cfg, mod), mod, logs
}

// wantInitTimedOut checks what a user sees when the init never finishes:
// the function loaded (as a Lambda deployment succeeds), its log says the
// init phase timed out, and an invocation fails as Lambda's does —
// Sandbox.Timedout, the init retried within it and timed out too.
func wantInitTimedOut(t *testing.T, fn *runtime.Function, mod *wasm.Module, logs *syncBuffer) {
	t.Helper()
	if !strings.Contains(mod.InitNote(), "did not finish within the") {
		t.Errorf("InitNote %q", mod.InitNote())
	}
	start := time.Now()
	ie := invokeErr(t, fn, kinesisEvent("ok"))
	if d := time.Since(start); d > prompt {
		t.Errorf("invocation took %s", d)
	}
	if ie.Type != "Sandbox.Timedout" || !strings.Contains(ie.Message, "Task timed out after") || !strings.Contains(ie.Message, "init (main) did not finish") {
		t.Errorf("got %s: %s; want Sandbox.Timedout naming the init", ie.Type, ie.Message)
	}
	log := logs.String()
	for _, want := range []string{"INIT_REPORT Init Duration: ", "Phase: init\tStatus: timeout", "Phase: invoke\tStatus: timeout"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestGoGuestInitDeadline: a Go guest whose main() spins loads within its
// init phase, its init is retried in the first invocation, and that
// invocation fails as Sandbox.Timedout; one whose main() sleeps past the
// init phase but finishes within it + the timeout serves its first
// invocation. (Both hung `sluice up` and `local invoke` forever.)
func TestGoGuestInitDeadline(t *testing.T) {
	code, err := os.ReadFile(buildGuest(t, "../testdata/kfn"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("spin", func(t *testing.T) {
		cfg := runtime.Config{Name: "Init", InitTimeout: 200 * time.Millisecond, Timeout: time.Second, Env: map[string]string{"KFN_INIT": "spin"}}
		fn, mod, logs := loadInit(t, code, options(), cfg)
		wantInitTimedOut(t, fn, mod, logs)
	})
	t.Run("sleep", func(t *testing.T) {
		// Timeout is generous: under the race detector the interpreter
		// runs the Go runtime's own start-up slowly.
		cfg := runtime.Config{Name: "Init", InitTimeout: 200 * time.Millisecond, Timeout: prompt, Env: map[string]string{"KFN_INIT": "sleep=600ms"}}
		fn, mod, logs := loadInit(t, code, options(), cfg)
		if mod.InitNote() == "" {
			t.Error("a 600 ms main() finished within a 200 ms init phase")
		}
		out, err := fn.Invoke(context.Background(), kinesisEvent("late"))
		if err != nil || !strings.Contains(string(out), "TEFURQ==") { // base64 "LATE"
			t.Fatalf("first invocation after a slow init: %s, %v", out, err)
		}
		if log := logs.String(); !strings.Contains(log, "Phase: init\tStatus: timeout") || strings.Contains(log, "Phase: invoke") {
			t.Errorf("log:\n%s", log)
		}
	})
}

// TestInitStopModes: an init that spins in main(), sleeps in main(), or
// spins in the module's start function (which runs inside instantiation)
// is stopped at the init phase's end with the interrupt global (compiler)
// and with wazero's close-on-context-done checks (interpreter); with
// SoftTimeout the sleeping init is abandoned instead. Either way the module
// loads and the invocation fails as Sandbox.Timedout.
func TestInitStopModes(t *testing.T) {
	code, err := os.ReadFile("../testdata/watinit/init.wasm")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name  string
		opts  wasm.Options
		inits []string
	}{
		{"compiler", wasm.Options{CompileCacheDir: "off"}, []string{"spin", "naps", "Start"}},
		{"interpreter", wasm.Options{CompileCacheDir: "off", Interpreter: true}, []string{"spin", "naps", "Start"}},
		// A spinning guest that cannot be stopped would stall the test
		// binary's garbage collector (RATIONALE.md): only the nap.
		{"soft", wasm.Options{CompileCacheDir: "off", SoftTimeout: true}, []string{"naps"}},
	} {
		for _, init := range mode.inits {
			t.Run(mode.name+"/"+init, func(t *testing.T) {
				cfg := runtime.Config{Name: "Init", InitTimeout: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, MemoryMB: 16, Env: map[string]string{"INIT": init}}
				fn, mod, logs := loadInit(t, code, mode.opts, cfg)
				wantInitTimedOut(t, fn, mod, logs)
			})
		}
	}
	t.Run("healthy", func(t *testing.T) {
		fn, mod, _ := loadInit(t, code, wasm.Options{CompileCacheDir: "off"}, runtime.Config{Name: "Init", InitTimeout: time.Minute})
		if mod.InitNote() != "" {
			t.Errorf("InitNote %q", mod.InitNote())
		}
		if _, err := fn.Invoke(context.Background(), kinesisEvent("ok")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStuckInitStopsOnCancel: cancelling the context stops a stuck init
// promptly, whatever its limits — at load (SIGTERM during `sluice up`) and
// during an invocation's retry (shutdown while a mapping waits on it).
func TestStuckInitStopsOnCancel(t *testing.T) {
	code, err := os.ReadFile("../testdata/watinit/init.wasm")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		opts wasm.Options
	}{
		{"compiler", wasm.Options{CompileCacheDir: "off"}},
		{"interpreter", wasm.Options{CompileCacheDir: "off", Interpreter: true}},
	} {
		t.Run(mode.name+"/load", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			_, err := wasm.NewModule(ctx, code, runtime.Config{Name: "Init", InitTimeout: time.Hour, Env: map[string]string{"INIT": "spin"}}, mode.opts)
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "function Init: init stopped") {
				t.Errorf("load: %v; want the stopped init", err)
			}
			if d := time.Since(start); d > prompt {
				t.Errorf("load took %s after cancel", d)
			}
		})
		t.Run(mode.name+"/invoke", func(t *testing.T) {
			cfg := runtime.Config{Name: "Init", InitTimeout: 50 * time.Millisecond, Timeout: time.Hour, Env: map[string]string{"INIT": "spin"}}
			fn, _, _ := loadInit(t, code, mode.opts, cfg)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			_, err := fn.Invoke(ctx, kinesisEvent("ok"))
			var ie *runtime.InvokeError
			if !errors.As(err, &ie) || ie.Type != "Runtime.Cancelled" {
				t.Errorf("invoke: %v; want Runtime.Cancelled", err)
			}
			if d := time.Since(start); d > prompt {
				t.Errorf("invoke took %s after cancel", d)
			}
		})
	}
}
