package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tetratelabs/wazero/api"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/wasm/internal/interrupt"
	"github.com/sluice-dev/sluice/sdk/abi"
	"github.com/sluice-dev/sluice/sdk/host"
)

// A guest's init — its start function, _initialize (Go's package
// initialisers) and sluice_main (main(), up to sdk.Start) — is guest code
// like any invocation, and is stopped like one: a guest that spins or
// sleeps in main() once held `sluice up` and `local invoke` forever, at
// 100% CPU, deaf to SIGTERM. Lambda's rules apply (runtime/init.go): the
// init phase gets Config.InitPhaseTimeout; when it runs out the instance is
// stopped and the next invocation retries the init inside its own timeout.

// InitNote says why the module loaded without a ready instance (its init
// ran out of time: the first invocation retries it); empty otherwise.
func (m *Module) InitNote() string { return m.initNote }

// initPhase starts an instance within the init phase's limit (and ctx).
// When the limit ends the init it returns an *runtime.InitTimeoutError and
// writes Lambda's INIT_REPORT line to log.
func (m *Module) initPhase(ctx context.Context, log io.Writer) (*instance, error) {
	start := m.clock.Now()
	ictx, cancel := clock.WithTimeout(ctx, m.clock, m.initTimeout)
	defer cancel()
	inst, err := m.start(ictx)
	if err != nil && ctx.Err() == nil && errors.Is(ictx.Err(), context.DeadlineExceeded) {
		runtime.WriteInitReport(log, m.clock.Since(start), "init", "timeout")
		return nil, &runtime.InitTimeoutError{Function: m.cfg.Name, After: m.initTimeout, Phase: "init"}
	}
	return inst, err
}

// Prepare implements runtime.Preparer: it takes an instance, creating one
// when none is idle, before the invocation's timeout starts (Lambda counts
// init apart from the handler's time). After an init phase that timed out
// it returns ErrInitTimeout at once, so the retry happens in the
// invocation, as on Lambda.
func (m *Module) Prepare(ctx context.Context) (any, error) {
	inst, err := m.popIdle()
	if err != nil || inst != nil {
		return inst, m.named(err)
	}
	if m.suppressed.CompareAndSwap(true, false) {
		return nil, &runtime.InitTimeoutError{Function: m.cfg.Name, After: m.initTimeout, Phase: "init"}
	}
	inst, err = m.initPhase(ctx, host.Log(ctx))
	if errors.Is(err, runtime.ErrInitTimeout) {
		return nil, err
	}
	if err != nil {
		return nil, m.named(err)
	}
	return inst, nil
}

// takeFor is the instance Prepare took for inv, a pooled one, or a new one
// started inside the invocation: the retry of an init that timed out, or a
// cold start for a caller that did not Prepare. ctx is the invocation's,
// so the function's timeout bounds that init.
func (m *Module) takeFor(ctx context.Context, inv *runtime.Invocation) (*instance, error) {
	if inst, ok := inv.Prepared.(*instance); ok && inst != nil {
		inv.Prepared = nil
		return inst, nil
	}
	inst, err := m.popIdle()
	if err != nil || inst != nil {
		return inst, m.named(err)
	}
	inst, err = m.start(ctx)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, &runtime.InitTimeoutError{Function: m.cfg.Name, Phase: "invoke"}
	}
	return inst, m.named(err)
}

// named prefixes err with the function's name (nil stays nil).
func (m *Module) named(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("function %s: %w", m.cfg.Name, err)
}

// popIdle takes an idle instance, nil if there is none.
func (m *Module) popIdle() (*instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("module is closed")
	}
	if n := len(m.idle); n > 0 {
		inst := m.idle[n-1]
		m.idle = m.idle[:n-1]
		return inst, nil
	}
	return nil, nil
}

// start creates an instance and runs its init under ctx: stopped when ctx
// ends, or, with SoftTimeout (which cannot stop a guest), abandoned.
func (m *Module) start(ctx context.Context) (*instance, error) {
	if m.stop == StopAbandon {
		return m.startAbandonable(ctx)
	}
	return m.instantiate(ctx)
}

// startAbandonable is start for a module that cannot be stopped
// (SoftTimeout): the init runs on its own goroutine and is abandoned when
// ctx ends, as a plugin's call is. An abandoned init that finishes later
// joins the pool; while one runs no other starts, so a guest stuck in its
// init costs one goroutine, not one per invocation.
func (m *Module) startAbandonable(ctx context.Context) (*instance, error) {
	for {
		m.mu.Lock()
		pending := m.pending
		m.mu.Unlock()
		if pending == nil {
			break
		}
		select {
		case <-pending:
			if inst, err := m.popIdle(); err != nil || inst != nil {
				return inst, err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for an earlier init, still running: %w", ctx.Err())
		}
	}
	type result struct {
		inst *instance
		err  error
	}
	done := make(chan result, 1)
	m.mu.Lock()
	m.softInits++
	m.mu.Unlock()
	go func() {
		inst, err := m.instantiate(context.WithoutCancel(ctx))
		m.mu.Lock()
		m.softInits--
		last := m.closed && m.softInits == 0
		m.mu.Unlock()
		if last { // Close left the runtime to the last init running
			m.rt.Close(context.Background())
			m.closeRoots()
		}
		done <- result{inst, err}
	}()
	select {
	case r := <-done:
		return r.inst, r.err
	case <-ctx.Done():
	}
	pending := make(chan struct{})
	m.mu.Lock()
	m.pending = pending
	m.mu.Unlock()
	go func() {
		if r := <-done; r.err == nil {
			m.release(context.Background(), r.inst)
		}
		m.mu.Lock()
		m.pending = nil
		m.mu.Unlock()
		close(pending)
	}()
	return nil, fmt.Errorf("init abandoned (SoftTimeout: the guest cannot be stopped): %w", ctx.Err())
}

// initExports are called in order after instantiation, each if exported:
// the module's start function (moved to an export by the instrumenter so
// that it runs once the instance can be stopped), the WASI reactor's
// _initialize, and main().
var initExports = []string{interrupt.StartExport, "_initialize", EntryExport}

// instantiate creates an instance and runs the guest's init under ctx,
// stopping it when ctx ends, as an invocation is stopped at its deadline.
// An instance whose init was stopped, even one that finished as it was
// stopped, is closed, never used.
func (m *Module) instantiate(ctx context.Context) (*instance, error) {
	out := &switchWriter{}
	inst := &instance{out: out, hard: m.stop != StopAbandon, wake: make(chan struct{}), clock: m.clock}
	mc := m.modCfg.WithStdout(out).WithStderr(out)
	var disarm func() bool
	if inst.hard {
		mc = mc.WithNanosleep(inst.sleep)
		disarm = context.AfterFunc(ctx, inst.stopGuest)
	}
	var mod api.Module
	fail := func(err error) (*instance, error) {
		if disarm != nil {
			disarm()
		}
		if mod != nil {
			mod.Close(context.WithoutCancel(ctx))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("init stopped: %w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	mod, err := m.rt.InstantiateModule(ctx, m.compiled, mc)
	if err != nil {
		mod = nil
		return fail(fmt.Errorf("instantiating module: %w%s", err, tail(out)))
	}
	inst.mod, inst.alloc, inst.invoke, inst.free = mod, mod.ExportedFunction(exportAlloc), mod.ExportedFunction(exportInvoke), mod.ExportedFunction(exportFree)
	if m.stop == StopInterrupt {
		g, ok := mod.ExportedGlobal(interrupt.Export).(api.MutableGlobal)
		if !ok {
			return fail(fmt.Errorf("instrumented module does not export the mutable global %s", interrupt.Export))
		}
		inst.setInterrupt(g)
	}
	for _, name := range initExports {
		if f := mod.ExportedFunction(name); f != nil {
			if _, err := f.Call(ctx); err != nil {
				return fail(fmt.Errorf("running %s: %w%s", initName(name), err, tail(out)))
			}
		}
	}
	res, err := mod.ExportedFunction(exportVersion).Call(ctx)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", exportVersion, err))
	}
	if v := uint32(res[0]); v != abi.Version {
		return fail(fmt.Errorf("module speaks Sluice WASM ABI version %d; this host speaks %d", v, abi.Version))
	}
	if f := mod.ExportedFunction(exportFeatures); f != nil {
		if res, err := f.Call(ctx); err == nil {
			inst.kinesis = uint32(res[0])&abi.FeatureKinesisBatch != 0
		}
	}
	if disarm != nil && !disarm() {
		// Stopped (or being stopped) as the init finished: its interrupt
		// may be set or its sleeps cut short.
		disarm = nil
		return fail(errors.New("stopped as it finished"))
	}
	return inst, nil
}

// initName is how an error names the init step that failed.
func initName(export string) string {
	switch export {
	case EntryExport:
		return "main()"
	case interrupt.StartExport:
		return "the start function"
	}
	return export
}
