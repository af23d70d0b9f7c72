package interrupt

import (
	"bytes"
	"context"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// instantiate runs code (loops.wasm or its instrumented form) next to the
// env module it imports a global from, on wazero's compiler.
func instantiate(t *testing.T, code []byte) api.Module {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	t.Cleanup(func() { rt.Close(ctx) })
	if _, err := rt.InstantiateWithConfig(ctx, read(t, "testdata/env.wasm"), wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	mod, err := rt.InstantiateWithConfig(ctx, code, wazero.NewModuleConfig().WithName("loops"))
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// TestInstrumentedModuleComputesTheSame: every function of loops.wasm gives
// the same results before and after instrumentation, and one check was
// inserted per loop, reading a new global numbered after the imported and
// defined ones.
func TestInstrumentedModuleComputesTheSame(t *testing.T) {
	code := read(t, "testdata/loops.wasm")
	out, st, err := Instrument(code)
	if err != nil {
		t.Fatal(err)
	}
	if st.Loops != 5 || st.Global != 3 || st.Functions != 8 {
		t.Errorf("stats %+v, want 5 loops in 8 functions and global 3 (1 imported + 2 defined)", st)
	}
	orig, inst := instantiate(t, code), instantiate(t, out)
	ctx := context.Background()
	for _, tc := range []struct {
		fn   string
		args []uint64
	}{
		{"sum", []uint64{0}}, {"sum", []uint64{10}}, {"countdown", []uint64{5}},
		{"classify", []uint64{0}}, {"classify", []uint64{1}}, {"classify", []uint64{2}}, {"classify", []uint64{api.EncodeI32(-3)}},
		{"lanes", nil}, {"fill", nil},
	} {
		want, err := orig.ExportedFunction(tc.fn).Call(ctx, tc.args...)
		if err != nil {
			t.Fatalf("%s%v on the original: %v", tc.fn, tc.args, err)
		}
		got, err := inst.ExportedFunction(tc.fn).Call(ctx, tc.args...)
		if err != nil || len(got) != len(want) || (len(got) > 0 && got[0] != want[0]) {
			t.Errorf("%s%v = %v, %v; the original gives %v", tc.fn, tc.args, got, err, want)
		}
	}
	if got, _ := inst.ExportedFunction("sum").Call(ctx, 10); len(got) == 0 || got[0] != 50 {
		t.Errorf("sum(10) = %v, want 50 (base 5 + 45)", got)
	}
}

// TestInterruptStopsASpinningGuest: setting the exported global from
// another goroutine makes a guest stuck in a loop trap, which no wazero
// option does on its own without WithCloseOnContextDone.
func TestInterruptStopsASpinningGuest(t *testing.T) {
	out, _, err := Instrument(read(t, "testdata/loops.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	mod := instantiate(t, out)
	g, ok := mod.ExportedGlobal(Export).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global %q exported", Export)
	}
	if g.Get() != 0 {
		t.Fatalf("interrupt global starts at %d, want 0", g.Get())
	}
	counter := mod.ExportedFunction("spin")
	done := make(chan error, 1)
	go func() {
		_, err := counter.Call(context.Background())
		done <- err
	}()
	g.Set(1)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("spin returned %v, want an unreachable trap", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the guest kept spinning after the interrupt was set")
	}
}

// TestSpinningGuestDoesNotHoldUpGC: Go cannot preempt a goroutine running
// compiled WASM, so a stop-the-world phase waits for it to leave; the
// instrumented loop passes through Go every Fuel iterations, so a garbage
// collection completes while the guest spins on (and so can the goroutine
// that will set the interrupt). Without that pass this test hangs.
func TestSpinningGuestDoesNotHoldUpGC(t *testing.T) {
	out, _, err := Instrument(read(t, "testdata/loops.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	mod := instantiate(t, out)
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("spin").Call(context.Background())
		done <- err
	}()
	counter := mod.ExportedGlobal("counter")
	for counter.Get() == 0 { // until the guest is in its loop
		goruntime.Gosched()
	}
	collected := make(chan struct{})
	go func() {
		goruntime.GC()
		close(collected)
	}()
	select {
	case <-collected:
	case <-time.After(time.Minute):
		t.Fatal("a garbage collection waited a minute for the spinning guest")
	}
	if n := counter.Get(); n == 0 {
		t.Fatal("the guest stopped spinning on its own")
	}
	mod.ExportedGlobal(Export).(api.MutableGlobal).Set(1)
	if err := <-done; err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("spin returned %v, want an unreachable trap", err)
	}
}

// TestBareModule: a module without global and export sections gets both,
// in an order wazero accepts.
func TestBareModule(t *testing.T) {
	out, st, err := Instrument(read(t, "testdata/bare.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Loops != 1 || st.Global != 0 {
		t.Errorf("stats %+v, want 1 loop and globals 0 and 1", st)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	mod, err := rt.Instantiate(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mod.ExportedGlobal(Export).(api.MutableGlobal); !ok {
		t.Fatalf("no mutable global %q exported", Export)
	}
}

// TestStartSectionBecomesExport: a start function no longer runs inside
// instantiation (where a loop in it could not be interrupted: the host has
// no handle on the global yet) but is exported as StartExport, for the host
// to call once it can stop the guest; calling it does what it did.
func TestStartSectionBecomesExport(t *testing.T) {
	code := read(t, "testdata/start.wasm")
	out, st, err := Instrument(code)
	if err != nil {
		t.Fatal(err)
	}
	if !st.HasStart {
		t.Errorf("stats %+v: the start section went unnoticed", st)
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	runs := func(mod api.Module) uint64 {
		res, err := mod.ExportedFunction("runs").Call(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	orig, err := rt.InstantiateWithConfig(ctx, code, wazero.NewModuleConfig().WithName("orig"))
	if err != nil {
		t.Fatal(err)
	}
	if runs(orig) != 1 {
		t.Fatal("the original module's start function did not run at instantiation")
	}
	mod, err := rt.InstantiateWithConfig(ctx, out, wazero.NewModuleConfig().WithName("instrumented"))
	if err != nil {
		t.Fatal(err)
	}
	if n := runs(mod); n != 0 {
		t.Fatalf("the start function ran %d times at instantiation; want 0 (it is the host's to call)", n)
	}
	start := mod.ExportedFunction(StartExport)
	if start == nil {
		t.Fatalf("no export %q", StartExport)
	}
	if _, err := start.Call(ctx); err != nil {
		t.Fatal(err)
	}
	if n := runs(mod); n != 1 {
		t.Errorf("after %s: %d runs, want 1", StartExport, n)
	}
	if _, ok := mod.ExportedGlobal(Export).(api.MutableGlobal); !ok {
		t.Errorf("no mutable global %q exported", Export)
	}
}

// TestBodies: the walker finds loops behind every kind of immediate, and
// only loops.
func TestBodies(t *testing.T) {
	chk := check(7, 8)
	locals := []byte{0x01, 0x02, 0x7f} // one group: 2 × i32
	for _, tc := range []struct {
		name  string
		code  []byte // instructions after the locals, ending with the body's end
		loops int
	}{
		{"empty", []byte{0x0b}, 0},
		{"loop", []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}, 1},
		{"loop with a value type", []byte{0x03, 0x7f, 0x41, 0x01, 0x0b, 0x1a, 0x0b}, 1},
		{"loop with a type index", []byte{0x03, 0x00, 0x0b, 0x0b}, 1},
		{"0x03 inside an i32.const is not a loop", []byte{0x41, 0x03, 0x1a, 0x0b}, 0},
		{"0x03 inside i64.const", []byte{0x42, 0x83, 0x03, 0x1a, 0x0b}, 0},
		{"f32 and f64 constants", []byte{0x43, 0x03, 0x03, 0x03, 0x03, 0x1a, 0x44, 3, 3, 3, 3, 3, 3, 3, 3, 0x1a, 0x0b}, 0},
		{"br_table", []byte{0x02, 0x40, 0x41, 0x00, 0x0e, 0x02, 0x03, 0x03, 0x00, 0x0b, 0x03, 0x40, 0x0b, 0x0b}, 1},
		{"memarg", []byte{0x41, 0x00, 0x28, 0x02, 0x83, 0x03, 0x1a, 0x0b}, 0},
		{"multi-memory memarg", []byte{0x41, 0x00, 0x28, 0x42, 0x01, 0x03, 0x1a, 0x0b}, 0},
		{"call_indirect", []byte{0x41, 0x00, 0x11, 0x03, 0x00, 0x0b}, 0},
		{"select with types", []byte{0x1c, 0x01, 0x7f, 0x0b}, 0},
		{"bulk memory", []byte{0xfc, 0x08, 0x03, 0x00, 0xfc, 0x0a, 0x00, 0x00, 0xfc, 0x0b, 0x00, 0xfc, 0x0e, 0x03, 0x03, 0x0b}, 0},
		{"saturating truncation", []byte{0xfc, 0x03, 0x0b}, 0},
		{"v128.const", append(append([]byte{0xfd, 0x0c}, bytes.Repeat([]byte{0x03}, 16)...), 0x1a, 0x0b), 0},
		{"lane", []byte{0xfd, 0x15, 0x03, 0x1a, 0x0b}, 0},
		{"load lane", []byte{0xfd, 0x54, 0x00, 0x03, 0x03, 0x0b}, 0},
		{"relaxed simd", []byte{0xfd, 0x80, 0x02, 0x0b}, 0},
		{"atomics", []byte{0xfe, 0x03, 0x00, 0xfe, 0x10, 0x02, 0x03, 0x03, 0x40, 0x0b, 0x0b}, 1},
		{"ref.null", []byte{0xd0, 0x70, 0x1a, 0x03, 0x40, 0x0b, 0x0b}, 1},
		{"try_table", []byte{0x1f, 0x40, 0x02, 0x00, 0x03, 0x00, 0x02, 0x03, 0x03, 0x40, 0x0b, 0x0b, 0x0b}, 1},
		{"legacy try, catch, delegate", []byte{0x06, 0x40, 0x03, 0x40, 0x0b, 0x07, 0x00, 0x0b, 0x06, 0x40, 0x18, 0x00, 0x0b}, 1},
		{"nested loops", []byte{0x03, 0x40, 0x03, 0x40, 0x0b, 0x0b, 0x0b}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := append(append([]byte{}, locals...), tc.code...)
			got, loops, err := instrumentBody(nil, body, chk)
			if err != nil {
				t.Fatal(err)
			}
			if loops != tc.loops {
				t.Errorf("%d loops, want %d", loops, tc.loops)
			}
			if len(got) != len(body)+tc.loops*len(chk) || bytes.Count(got, chk) != tc.loops {
				t.Errorf("rewrote % x into % x", body, got)
			}
		})
	}
}

// TestRefusals: what Instrument cannot rewrite faithfully is an error (the
// host then stops the guest another way), never a guess or a panic.
func TestRefusals(t *testing.T) {
	loops := read(t, "testdata/loops.wasm")
	exported := []byte("\x00asm\x01\x00\x00\x00" +
		"\x05\x03\x01\x00\x01" + // memory 1
		"\x07\x14\x01\x10sluice.interrupt\x02\x00") // an export with our name
	for _, tc := range []struct {
		name string
		code []byte
		want string
	}{
		{"not wasm", []byte("hello, world"), "not a WebAssembly module"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), "version 2"},
		{"truncated section", loops[:len(loops)-3], "unexpected end"},
		{"unknown section", []byte("\x00asm\x01\x00\x00\x00\x2a\x00"), "unknown section id 42"},
		{"name taken", exported, "already exports"},
		{"unknown opcode", []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x01\x0a\x05\x01\x03\x00\xff\x0b"), "unknown opcode 0xff"},
		{"body without end", []byte("\x00asm\x01\x00\x00\x00\x05\x03\x01\x00\x01\x0a\x04\x01\x02\x00\x01"), "ends before"},
		{"no memory", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x04\x01\x02\x00\x0b"), "no memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Instrument(tc.code)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestDebugSectionsDropped: DWARF addresses code by offset, which the
// checks move; the name section stays (stack traces keep their names).
func TestDebugSectionsDropped(t *testing.T) {
	custom := func(name, payload string) []byte {
		body := append([]byte{byte(len(name))}, name...)
		body = append(body, payload...)
		return append([]byte{0x00, byte(len(body))}, body...)
	}
	code := append(append(read(t, "testdata/bare.wasm"), custom(".debug_info", "xyz")...), custom("name", "\x00\x02\x01x")...)
	out, _, err := Instrument(code)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(".debug_info")) || !bytes.Contains(out, []byte("name\x00\x02\x01x")) {
		t.Errorf("custom sections after instrumenting: % x", out)
	}
}

// FuzzInstrument: no input panics, and whatever wazero accepts before
// instrumentation it accepts after.
func FuzzInstrument(f *testing.F) {
	for _, p := range []string{"testdata/loops.wasm", "testdata/bare.wasm", "testdata/env.wasm", "../../../testdata/watfn/upper.wasm"} {
		f.Add(read(f, p))
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	f.Fuzz(func(t *testing.T, code []byte) {
		out, _, err := Instrument(code)
		if err != nil {
			return
		}
		orig, err := rt.CompileModule(ctx, code)
		if err != nil {
			return // not a valid module; Instrument need not notice
		}
		orig.Close(ctx)
		inst, err := rt.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("wazero accepts the module but not its instrumented form: %v", err)
		}
		inst.Close(ctx)
	})
}
