// Package wasm runs functions compiled to WebAssembly, with wazero, behind
// the ABI documented in docs/wasm-abi.md: a guest exports allocation and ONE
// batch entry point per invocation, and may import the host's log function.
//
// Unlike a plugin, a WASM guest is a real sandbox: the function's Timeout
// stops the guest at its next loop iteration (the module is instrumented
// with an interrupt check, internal/interrupt), MemorySize caps its linear memory,
// and it sees no file system, no network and no host environment — only its
// own Environment.Variables and what Options grants.
//
// Compiled machine code is cached on disk (wazero's compilation cache), so
// a cold start after the first only instantiates. Each instance is
// single-threaded, so a Module keeps a pool of them: concurrent invocations
// take one each, and an instance that trapped, ran out of memory or timed
// out is thrown away, never reused.
//
// Linking the package registers the "wasm" loader (register.go).
package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/wasm/internal/interrupt"
	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/sdk/abi"
)

// The guest's exports (docs/wasm-abi.md).
const (
	exportVersion  = "sluice_abi_version"
	exportFeatures = "sluice_features"
	exportAlloc    = "sluice_alloc"
	exportFree     = "sluice_free"
	exportInvoke   = "sluice_invoke"
)

// pageSize is WebAssembly's memory page: MemorySize MB = 16 pages per MB.
const pageSize = 64 << 10

// Options are what a WASM function is granted beyond its configuration.
type Options struct {
	// CompileCacheDir is wazero's on-disk cache of compiled machine code;
	// default <user cache dir>/sluice/wasm-compiled. "off" disables it.
	CompileCacheDir string
	// Mounts grants file system access: guest path → host directory,
	// mounted read-only. None by default. The guest cannot leave a mount:
	// every path is resolved inside its directory (os.Root), so a symbolic
	// link that points outside it, relative, absolute or through other
	// links, is refused; links that stay inside work.
	Mounts map[string]string
	// Interpreter runs the guest on wazero's interpreter instead of its
	// compiler: ~10× slower code, but no compile step. For hosts built with
	// the race detector (where compiling a Go guest takes minutes).
	Interpreter bool
	// SoftTimeout gives up the hard stop: the module runs unmodified and
	// unchecked, so a timed-out call is abandoned like a plugin's — its
	// instance keeps running until the guest returns, then is closed.
	// Go cannot preempt compiled WASM, so a guest that never returns also
	// stalls the host's next garbage collection, and with it the process.
	// Since the interrupt instrumentation (RATIONALE.md) made hard stops
	// cheap, this is only for modules that must run byte for byte as
	// built, and are trusted to return.
	SoftTimeout bool
	// MaxIdle caps the instances kept for reuse (each holds its linear
	// memory, ~8 MiB for a Go guest); default 8.
	MaxIdle int
}

var (
	cachesMu sync.Mutex
	caches   = map[string]wazero.CompilationCache{} // one per directory per process
)

func compilationCache(dir string) (wazero.CompilationCache, error) {
	if dir == "off" {
		return nil, nil
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("no cache directory: %w", err)
		}
		dir = filepath.Join(base, "sluice", "wasm-compiled")
	}
	cachesMu.Lock()
	defer cachesMu.Unlock()
	if c, ok := caches[dir]; ok {
		return c, nil
	}
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wasm compilation cache %s: %w", dir, err)
	}
	caches[dir] = c
	return c, nil
}

// Module is a compiled WASM function and its pool of instances; it is the
// runtime.Engine of a WASM runtime.Function.
type Module struct {
	cfg      runtime.Config
	opts     Options
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig
	maxPages uint32
	stop     StopMode
	stopWhy  error // why StopInterrupt was not possible

	roots []*os.Root // the mounts' directories, open for the module's life

	// initTimeout is the init phase's limit; suppressed says the last
	// init phase timed out, so the next cold start happens inside an
	// invocation, under its timeout (init.go). initNote says why.
	initTimeout time.Duration
	suppressed  atomic.Bool
	initNote    string
	clock       clock.Clock // Config.Clock: init deadlines, guest sleeps

	mu     sync.Mutex
	idle   []*instance
	closed bool
	// pending is closed when an abandoned init (StopAbandon) ends;
	// softInits counts the StopAbandon inits running.
	pending   chan struct{}
	softInits int
}

// Load reads a .wasm file and returns a Function that runs it.
func Load(ctx context.Context, path string, cfg runtime.Config, opts Options) (*runtime.Function, error) {
	code, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", cfg.Name, err)
	}
	m, err := NewModule(ctx, code, cfg, opts)
	if err != nil {
		return nil, err
	}
	return runtime.NewWithEngine(cfg, m), nil
}

// NewModule compiles code (or finds it in the compilation cache) and
// instantiates one instance, so that a guest that cannot start fails here,
// at load, rather than on its first event. The exception is a guest whose
// init runs out of Config.InitPhaseTimeout (10 s): it is stopped, and the
// module loads with no instance, as a Lambda deployment succeeds; its first
// invocation retries the init under the function's timeout (InitNote says
// so). ctx cancelled stops the init and the load fails.
func NewModule(ctx context.Context, code []byte, cfg runtime.Config, opts Options) (*Module, error) {
	if cfg.MemoryMB <= 0 {
		cfg.MemoryMB = 128
	}
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = 8
	}
	cache, err := compilationCache(opts.CompileCacheDir)
	if err != nil {
		return nil, err
	}
	m := &Module{cfg: cfg, opts: opts, maxPages: uint32(cfg.MemoryMB) * (1 << 20 / pageSize), initTimeout: cfg.InitPhaseTimeout(), clock: clock.Or(cfg.Clock)}
	fail := func(err error) (*Module, error) {
		if m.rt != nil {
			m.rt.Close(context.WithoutCancel(ctx))
		}
		m.closeRoots()
		return nil, fmt.Errorf("function %s: %w", cfg.Name, err)
	}
	// How a timeout stops the guest (RATIONALE.md): the interrupt global
	// where the module can be instrumented, wazero's own termination
	// checks where it cannot (and on the interpreter, which the race
	// detector needs and where they are cheap), nothing with SoftTimeout.
	m.stop = StopInterrupt
	switch {
	case opts.SoftTimeout:
		m.stop = StopAbandon
	case opts.Interpreter:
		m.stop = StopCloseOnDone
	}
	if m.stop == StopInterrupt {
		instrumented, _, err := interrupt.Instrument(code)
		if err == nil {
			if m.rt, m.compiled, err = compile(ctx, instrumented, cache, m.maxPages, opts.Interpreter, false); err != nil {
				err = fmt.Errorf("the instrumented module does not compile: %w", err)
			}
		}
		if err != nil {
			// Not a module the instrumenter knows how to rewrite (or one
			// the rewrite broke): wazero's checks stop it instead.
			m.stop, m.stopWhy = StopCloseOnDone, err
		}
	}
	if m.rt == nil {
		var err error
		if m.rt, m.compiled, err = compile(ctx, code, cache, m.maxPages, opts.Interpreter, m.stop == StopCloseOnDone); err != nil {
			return fail(err)
		}
	}
	for _, name := range []string{exportVersion, exportAlloc, exportInvoke} {
		if _, ok := m.compiled.ExportedFunctions()[name]; !ok {
			return fail(fmt.Errorf("module does not export %s: not a Sluice WASM function (docs/wasm-abi.md)", name))
		}
	}
	// The guest sees its own environment as a Lambda function would, and
	// nothing of the host's. Randomness and the monotonic clock (what a
	// guest measures durations with) are real; the time of day is the
	// function's clock, the same one the host computes the invocation's
	// deadline from, so on a fake clock a guest neither sees its deadline
	// long past nor far away.
	// No start functions: instantiate calls _initialize itself, once the
	// instance can be stopped (init.go).
	mc := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithSysNanotime().WithSysNanosleep().WithRandSource(rand.Reader)
	if m.clock == clock.Real() {
		mc = mc.WithSysWalltime()
	} else {
		clk := m.clock
		mc = mc.WithWalltime(func() (int64, int32) {
			now := clk.Now()
			return now.Unix(), int32(now.Nanosecond())
		}, sys.ClockResolution(time.Microsecond))
	}
	for k, v := range runtime.NewWithEngine(cfg, nil).Config().LambdaEnv() {
		mc = mc.WithEnv(k, v)
	}
	if len(opts.Mounts) > 0 {
		fsc := wazero.NewFSConfig()
		for guest, hostDir := range opts.Mounts {
			// wazero's directory mount follows symbolic links wherever they
			// point; a function ships its mount beside its code, so a link
			// in it could read the state dir's control token. os.Root's
			// file system resolves each path inside the directory.
			root, err := os.OpenRoot(hostDir)
			if err != nil {
				return fail(fmt.Errorf("mount %s: %w", guest, err))
			}
			m.roots = append(m.roots, root)
			fsc = fsc.WithFSMount(root.FS(), guest)
		}
		mc = mc.WithFSConfig(fsc)
	}
	m.modCfg = mc
	inst, err := m.initPhase(ctx, cfg.Logs)
	switch {
	case err == nil:
		m.idle = append(m.idle, inst)
	case errors.Is(err, runtime.ErrInitTimeout) && ctx.Err() == nil:
		// As on Lambda, a function whose init runs out of time still
		// deploys: `sluice up` gets ready, and the first invocation
		// retries the init under the function's timeout.
		m.suppressed.Store(true)
		m.initNote = err.Error()
	default:
		return fail(err)
	}
	return m, nil
}

// StopMode is how a Module stops a guest whose invocation timed out.
type StopMode string

const (
	// StopInterrupt: the module was instrumented (internal/interrupt) and
	// the host sets its interrupt global at the deadline; the guest traps
	// at its next loop iteration and the instance is discarded.
	StopInterrupt StopMode = "interrupt"
	// StopCloseOnDone: wazero closes the module when the context is done,
	// checking at every loop header with an exit to Go (slower code).
	StopCloseOnDone StopMode = "close-on-context-done"
	// StopAbandon: Options.SoftTimeout; the call is abandoned like a
	// plugin's and the instance closed once the guest returns.
	StopAbandon StopMode = "abandon"
)

// StopMode says how this module's timeouts stop the guest.
func (m *Module) StopMode() StopMode { return m.stop }

// StopNote explains a StopMode other than the one asked for: why the module
// could not be instrumented, and what that costs. Empty otherwise.
func (m *Module) StopNote() string {
	if m.stopWhy == nil {
		return ""
	}
	return fmt.Sprintf("timeouts use wazero's termination checks, which slow a Go guest 4–6×: the module could not be instrumented (%v)", m.stopWhy)
}

// compile makes a wazero runtime with the host modules and compiles code in
// it.
func compile(ctx context.Context, code []byte, cache wazero.CompilationCache, maxPages uint32, interpreter, closeOnDone bool) (wazero.Runtime, wazero.CompiledModule, error) {
	rc := wazero.NewRuntimeConfig()
	if interpreter {
		rc = wazero.NewRuntimeConfigInterpreter()
	}
	rc = rc.WithCloseOnContextDone(closeOnDone).WithMemoryLimitPages(maxPages)
	if cache != nil {
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	fail := func(err error) (wazero.Runtime, wazero.CompiledModule, error) {
		rt.Close(ctx)
		return nil, nil, err
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fail(err)
	}
	if _, err := rt.NewHostModuleBuilder("sluice").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostLog), []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, nil).
		WithParameterNames("ptr", "len").Export("log").
		Instantiate(ctx); err != nil {
		return fail(err)
	}
	compiled, err := rt.CompileModule(ctx, code)
	if err != nil {
		return fail(fmt.Errorf("compiling module: %w", err))
	}
	return rt, compiled, nil
}

// Close releases every instance and the compiled code.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.idle = nil
	running := m.softInits > 0
	m.mu.Unlock()
	if running {
		// An init under SoftTimeout (perhaps abandoned) still runs in the
		// runtime, and closing it under a running guest is a data race in
		// wazero: the init's goroutine closes it when the guest returns
		// (init.go).
		return nil
	}
	err := m.rt.Close(ctx)
	m.closeRoots()
	return err
}

func (m *Module) closeRoots() {
	for _, r := range m.roots {
		r.Close()
	}
	m.roots = nil
}

// instance is one instantiation of the module: single-threaded, so it is
// used by one invocation at a time.
type instance struct {
	mod     api.Module
	alloc   api.Function
	invoke  api.Function
	free    api.Function
	kinesis bool // the guest accepts binary Kinesis batches
	out     *switchWriter
	stack   [2]uint64
	req     []byte // reused encoding buffer (host side)
	// reqPtr/reqCap name the guest buffer from sluice_alloc that requests
	// are written to; it is reused while they fit, so a steady-state
	// invocation is one call into the guest (each call costs a goroutine
	// with WithCloseOnContextDone, ~1–4 µs).
	reqPtr, reqCap uint32

	// hard: a timeout stops this instance (StopInterrupt or
	// StopCloseOnDone). interrupt is the instrumented module's interrupt
	// global (StopInterrupt only), set once the instance exists; wake ends
	// a guest's sleep. stopMu guards interrupt and stopped, because an
	// init can be stopped before the instance (and its global) exists.
	hard      bool
	stopMu    sync.Mutex
	stopped   bool
	interrupt api.MutableGlobal
	wakeOnce  sync.Once
	wake      chan struct{}
	clock     clock.Clock // the module's, for the guest's sleeps
}

// stopGuest makes an instrumented guest trap at its next loop iteration,
// and ends any sleep now (wazero's own termination checks cannot reach a
// guest asleep in a host call). It runs on another goroutine than the call.
func (inst *instance) stopGuest() {
	inst.stopMu.Lock()
	inst.stopped = true
	if inst.interrupt != nil {
		inst.interrupt.Set(1)
	}
	inst.stopMu.Unlock()
	inst.wakeOnce.Do(func() { close(inst.wake) })
}

// setInterrupt gives the instance its interrupt global, set at once if
// the instance was stopped while it was being created.
func (inst *instance) setInterrupt(g api.MutableGlobal) {
	inst.stopMu.Lock()
	inst.interrupt = g
	if inst.stopped {
		g.Set(1)
	}
	inst.stopMu.Unlock()
}

// sleep is the guest's nanosleep (WASI poll_oneoff): it ends early when the
// invocation is stopped, so a sleeping guest is stopped as promptly as a
// spinning one.
func (inst *instance) sleep(ns int64) {
	t := inst.clock.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.Chan():
	case <-inst.wake:
	}
}

// arm stops the guest when ctx is done, until the returned func disarms it;
// disarm reports false when the stop already happened (or is happening),
// and then the instance must not be reused.
func (inst *instance) arm(ctx context.Context) (disarm func() bool) {
	if !inst.hard {
		return nil
	}
	return context.AfterFunc(ctx, inst.stopGuest)
}

// switchWriter is an instance's stdout and stderr: it forwards to the
// current invocation's log and remembers the tail, which names the cause
// when a Go guest dies ("fatal error: out of memory").
type switchWriter struct {
	w    io.Writer
	tail []byte
}

func (s *switchWriter) Write(p []byte) (int, error) {
	if s.w != nil {
		_, _ = s.w.Write(p)
	}
	s.tail = append(s.tail, p...)
	if len(s.tail) > 2048 {
		s.tail = s.tail[len(s.tail)-1024:]
	}
	return len(p), nil
}

type logKey struct{}

// hostLog is the sluice.log import: one log line from the guest.
func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	ptr, n := uint32(stack[0]), uint32(stack[1])
	w, _ := ctx.Value(logKey{}).(io.Writer)
	if w == nil {
		return
	}
	if b, ok := mod.Memory().Read(ptr, n); ok {
		line := make([]byte, 0, len(b)+1)
		line = append(append(line, b...), '\n')
		_, _ = w.Write(line)
	}
}

func tail(out *switchWriter) string {
	if t := strings.TrimSpace(string(out.tail)); t != "" {
		return " (guest output: " + t + ")"
	}
	return ""
}

func (m *Module) release(ctx context.Context, inst *instance) {
	inst.out.w = nil
	m.mu.Lock()
	if !m.closed && len(m.idle) < m.opts.MaxIdle {
		m.idle = append(m.idle, inst)
		inst = nil
	}
	m.mu.Unlock()
	if inst != nil {
		inst.mod.Close(ctx)
	}
}

// Call implements runtime.Engine: one invocation on a pooled instance. A
// Kinesis event goes to a guest that accepts it in the binary batch layout
// (no base64, no JSON in the guest); anything else as the raw payload.
func (m *Module) Call(ctx context.Context, inv *runtime.Invocation) ([]byte, error) {
	inst, err := m.takeFor(ctx, inv)
	if err != nil {
		return nil, err
	}
	return m.callJSON(ctx, inst, inv)
}

// callJSON runs inv's raw payload on inst.
func (m *Module) callJSON(ctx context.Context, inst *instance, inv *runtime.Invocation) ([]byte, error) {
	h := abi.Header{Kind: abi.KindJSON, RequestID: inv.RequestID, FunctionARN: inv.FunctionARN, DeadlineMs: inv.Deadline.UnixMilli()}
	req := inst.req[:0]
	if ev, ok := kinesisEvent(inst, inv.Payload); ok {
		h.Kind = abi.KindKinesis
		req = abi.AppendKinesis(abi.AppendHeader(req, h), ev)
	} else {
		req = append(abi.AppendHeader(req, h), inv.Payload...)
	}
	inst.req = req
	return m.call(ctx, inst, inv, req)
}

// CallKinesis is the typed fast path for a caller that holds the event
// already (an event-source mapping): no JSON on either side of the host.
func (m *Module) CallKinesis(ctx context.Context, inv *runtime.Invocation, ev *events.KinesisEvent) (*runtime.KinesisResult, error) {
	inst, err := m.takeFor(ctx, inv)
	if err != nil {
		return nil, err
	}
	h := abi.Header{Kind: abi.KindKinesis, RequestID: inv.RequestID, FunctionARN: inv.FunctionARN, DeadlineMs: inv.Deadline.UnixMilli()}
	if !inst.kinesis || !abi.CanEncodeKinesis(ev) {
		// A guest without the binary batch ABI, or a batch the layout
		// cannot carry: the JSON path, on this same instance (which goes
		// back to the pool unused if the batch cannot even be encoded).
		called := false
		res, err := runtime.KinesisViaJSON(ev, func(payload []byte) ([]byte, error) {
			called = true
			inv.Payload = payload
			return m.callJSON(ctx, inst, inv)
		})
		if !called {
			m.release(ctx, inst)
		}
		return res, err
	}
	inst.req = abi.AppendKinesis(abi.AppendHeader(inst.req[:0], h), ev)
	resp, err := m.roundTrip(ctx, inst, inv, inst.req)
	if err != nil {
		return nil, err
	}
	if resp.tag == abi.TagStream {
		return &runtime.KinesisResult{Response: *resp.stream}, nil
	}
	return runtime.JSONKinesisResult(resp.body), nil
}

func kinesisEvent(inst *instance, payload []byte) (*events.KinesisEvent, bool) {
	// Cheap checks first: most payloads that are not Kinesis events never
	// reach the JSON decoder.
	if !inst.kinesis || !bytes.Contains(payload, []byte(`"aws:kinesis"`)) || !bytes.Contains(payload, []byte(`"Records"`)) {
		return nil, false
	}
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil || !abi.CanEncodeKinesis(&ev) {
		return nil, false
	}
	return &ev, true
}

type response struct {
	tag    byte
	body   []byte // TagJSON: a copy
	stream *sdk.StreamResponse
}

func (m *Module) call(ctx context.Context, inst *instance, inv *runtime.Invocation, req []byte) ([]byte, error) {
	resp, err := m.roundTrip(ctx, inst, inv, req)
	if err != nil {
		return nil, err
	}
	if resp.tag == abi.TagJSON {
		return resp.body, nil
	}
	// Encode as aws-lambda-go does, so a response is byte-identical to the
	// same handler's as a plugin: no HTML escaping, no trailing newline.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp.stream); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// roundTrip writes req into the instance, calls sluice_invoke and decodes
// the response. Any failure of the instance itself (trap, exit, timeout)
// discards it; the next invocation gets a fresh one.
func (m *Module) roundTrip(ctx context.Context, inst *instance, inv *runtime.Invocation, req []byte) (*response, error) {
	inst.out.w = inv.Log
	inst.out.tail = inst.out.tail[:0]
	ctx = context.WithValue(ctx, logKey{}, inv.Log)
	healthy := false
	disarm := inst.arm(ctx)
	defer func() {
		if disarm != nil && !disarm() {
			healthy = false // stopped, or being stopped, from another goroutine
		}
		if healthy {
			m.release(ctx, inst)
		} else {
			inst.mod.Close(context.WithoutCancel(ctx))
		}
	}()
	if uint32(len(req)) > inst.reqCap {
		if inst.reqCap > 0 && inst.free != nil {
			inst.stack[0] = uint64(inst.reqPtr)
			if err := inst.free.CallWithStack(ctx, inst.stack[:]); err != nil {
				return nil, m.failure(ctx, inst, inv, err)
			}
		}
		// Room to grow, so a slightly bigger batch does not cost a call.
		size := uint32(len(req)) + uint32(len(req))/4 + 256
		inst.stack[0] = uint64(size)
		if err := inst.alloc.CallWithStack(ctx, inst.stack[:]); err != nil {
			return nil, m.failure(ctx, inst, inv, err)
		}
		inst.reqPtr, inst.reqCap = uint32(inst.stack[0]), size
	}
	ptr := inst.reqPtr
	if !inst.mod.Memory().Write(ptr, req) {
		return nil, &runtime.InvokeError{Type: "Runtime.InvalidResponse", Message: fmt.Sprintf("%s returned %#x, outside the guest's memory for %d bytes", exportAlloc, ptr, len(req)), RequestID: inv.RequestID}
	}
	inst.stack[0], inst.stack[1] = uint64(ptr), uint64(len(req))
	err := inst.invoke.CallWithStack(ctx, inst.stack[:])
	if disarm != nil {
		stopped := !disarm()
		disarm = nil
		if stopped {
			// The deadline passed during the call. A guest woken from a
			// sleep may even have finished; as on Lambda, whose sandbox is
			// stopped at the deadline, the result does not count.
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, m.failure(ctx, inst, inv, err)
	}
	rptr, rlen := uint32(inst.stack[0]>>32), uint32(inst.stack[0])
	raw, ok := inst.mod.Memory().Read(rptr, rlen)
	if !ok || rlen == 0 {
		return nil, &runtime.InvokeError{Type: "Runtime.InvalidResponse", Message: fmt.Sprintf("%s returned %d bytes at %#x, outside the guest's memory", exportInvoke, rlen, rptr), RequestID: inv.RequestID}
	}
	healthy = true
	body := raw[1:]
	switch raw[0] {
	case abi.TagJSON:
		return &response{tag: abi.TagJSON, body: bytes.Clone(body)}, nil
	case abi.TagStream:
		failures, records, err := abi.DecodeStream(body)
		if err != nil {
			healthy = false
			return nil, &runtime.InvokeError{Type: "Runtime.InvalidResponse", Message: err.Error(), RequestID: inv.RequestID}
		}
		sr := &sdk.StreamResponse{BatchItemFailures: failures}
		if len(records) > 0 {
			sr.Records = make([]sdk.OutputRecord, len(records))
			for i, r := range records {
				sr.Records[i] = sdk.OutputRecord{Data: r.Data, PartitionKeys: r.PartitionKeys}
			}
		}
		return &response{tag: abi.TagStream, stream: sr}, nil
	case abi.TagError:
		ie := &runtime.InvokeError{RequestID: inv.RequestID}
		if err := json.Unmarshal(body, ie); err != nil || ie.Type == "" {
			ie.Type, ie.Message = "Runtime.InvalidResponse", "malformed error document: "+string(body)
		}
		return nil, ie
	case abi.TagNotFound:
		return nil, &runtime.InvokeError{Type: "Runtime.NoHandler", Message: string(body), RequestID: inv.RequestID}
	default:
		healthy = false
		return nil, &runtime.InvokeError{Type: "Runtime.InvalidResponse", Message: fmt.Sprintf("unknown response tag %d", raw[0]), RequestID: inv.RequestID}
	}
}

// failure turns a failed call into Lambda's error shapes. The deadline case
// is left to runtime.Function (Sandbox.Timedout).
func (m *Module) failure(ctx context.Context, inst *instance, inv *runtime.Invocation, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	out := string(inst.out.tail)
	// A guest that dies with its memory (nearly) at the cap ran out of it:
	// a Go guest says so on stderr, others trap after memory.grow fails.
	oom := strings.Contains(out, "out of memory") || uint64(inst.mod.Memory().Size()) >= uint64(m.maxPages)*pageSize*9/10
	var exit *sys.ExitError
	switch {
	case oom:
		return &runtime.InvokeError{Type: "Runtime.OutOfMemory", Message: fmt.Sprintf("RequestId: %s Error: Runtime exited: memory limit of %d MB reached (%v)", inv.RequestID, m.cfg.MemoryMB, err), RequestID: inv.RequestID}
	case errors.As(err, &exit):
		return &runtime.InvokeError{Type: "Runtime.ExitError", Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: exit status %d%s", inv.RequestID, exit.ExitCode(), tail(inst.out)), RequestID: inv.RequestID}
	case goCrashed(out):
		// A Go reactor cannot exit: after printing the panic it aborts
		// with unreachable. A native Go process would have exited with
		// status 2, which is what Lambda reports.
		return &runtime.InvokeError{Type: "Runtime.ExitError", Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: exit status 2%s", inv.RequestID, tail(inst.out)), RequestID: inv.RequestID}
	default:
		return &runtime.InvokeError{Type: "Runtime.Trap", Message: fmt.Sprintf("RequestId: %s Error: %v", inv.RequestID, err), RequestID: inv.RequestID}
	}
}

// goCrashed reports whether a guest's last output is the Go runtime dying:
// an unrecovered panic (one the sdk cannot catch, e.g. on another
// goroutine) or a fatal error.
func goCrashed(out string) bool {
	for _, prefix := range []string{"panic: ", "fatal error: "} {
		if strings.HasPrefix(out, prefix) || strings.Contains(out, "\n"+prefix) {
			return true
		}
	}
	return false
}

var _ runtime.Preparer = (*Module)(nil)
