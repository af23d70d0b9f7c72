package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/loader"
	_ "github.com/sluice-dev/sluice/runtime/plugin" // registers the plugin loader
	_ "github.com/sluice-dev/sluice/runtime/wasm"   // registers the wasm loader
	"github.com/sluice-dev/sluice/template"
)

type loadedFunction struct {
	tmpl template.Function
	fn   runtime.Invoker
}

type functionStage struct {
	loaded map[string]loadedFunction // by logical ID
}

// loadFunctions builds and loads every function of plan that a mapping
// invokes. On an error it returns what it loaded so far with it, for the
// caller to close.
func (i *instance) loadFunctions(ctx context.Context, plan *template.Plan) (functionStage, error) {
	stage := functionStage{loaded: map[string]loadedFunction{}}
	// Functions that a mapping invokes, and those a delivery stream calls
	// as its data-transformation (Lambda processor).
	needed := map[string]bool{}
	for _, ds := range plan.DeliveryStreams {
		if ds.TransformFunction != "" {
			needed[ds.TransformFunction] = true
		}
	}
	for _, fn := range plan.Functions {
		if len(fn.Events) == 0 && !needed[fn.LogicalID] {
			continue
		}
		logs, err := i.logs.open(i.stateDir, fn.LogicalID, logCapsOf(i.cfg))
		if err != nil {
			return stage, fmt.Errorf("function %s: logs: %w", fn.LogicalID, err)
		}
		f, err := LoadFunctionWith(ctx, plan, fn, LoadOptions{CacheDir: i.cfg.CacheDir, Progress: i.cfg.Stderr, Logs: logs, Clock: i.cfg.Clock})
		if err != nil {
			return stage, err
		}
		stage.loaded[fn.LogicalID] = loadedFunction{tmpl: fn, fn: f}
	}
	return stage, nil
}

// LoadFunction builds (or finds cached) and loads one function of the plan
// with the loader its Metadata names. Build progress and the function's
// logs go to progress.
func LoadFunction(ctx context.Context, plan *template.Plan, fn template.Function, cacheDir string, progress io.Writer) (*runtime.Function, error) {
	return LoadFunctionWith(ctx, plan, fn, LoadOptions{CacheDir: cacheDir, Progress: progress, Logs: progress})
}

// LoadOptions tune LoadFunctionWith.
type LoadOptions struct {
	// CacheDir holds built plugins, WASM modules (wasm/) and compiled WASM
	// code (wasm-compiled/); default: the user cache directory.
	CacheDir string
	// Loader overrides the template's Metadata.Sluice.Loader, naming one
	// of Loaders() (`sluice local invoke --loader`).
	Loader string
	// Progress receives build progress; Logs the function's log lines.
	Progress, Logs io.Writer
	// InitTimeout bounds the function's init phase (0: Lambda's 10 s).
	InitTimeout time.Duration
	// Clock times the function's invocations, init and build; nil is the
	// wall clock.
	Clock clock.Clock
}

// Loaders are the values Metadata.Sluice.Loader and --loader accept: the
// loaders this program links (runtime/plugin and runtime/wasm, imported
// above for their registration).
func Loaders() []string { return loader.Names() }

// LoadFunctionWith is LoadFunction with options: the function's loader
// (by name, from the registry) builds it and loads it.
func LoadFunctionWith(ctx context.Context, plan *template.Plan, fn template.Function, opts LoadOptions) (*runtime.Function, error) {
	env := map[string]string{}
	for k, v := range fn.Environment {
		env[k] = v
	}
	cfg := runtime.Config{
		Name:                fn.Name,
		MemoryMB:            fn.MemorySize,
		Timeout:             fn.Timeout,
		Env:                 env,
		ReservedConcurrency: fn.ReservedConcurrency,
		Logs:                opts.Logs,
		InitTimeout:         opts.InitTimeout,
		Clock:               opts.Clock,
	}
	name := fn.Loader
	if opts.Loader != "" {
		name = opts.Loader
	}
	l, err := runtime.LookupLoader(name)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", fn.LogicalID, err)
	}
	art, err := l.Build(ctx, runtime.BuildRequest{Function: fn.LogicalID, Dir: fn.CodeDir, CacheDir: opts.CacheDir, Progress: opts.Progress, Clock: opts.Clock})
	if err != nil {
		return nil, err
	}
	return l.Load(ctx, art, runtime.LoadRequest{Config: cfg, Function: fn.LogicalID, CacheDir: opts.CacheDir, Mounts: fn.Mounts, SoftTimeout: fn.SoftTimeout, Progress: opts.Progress})
}

// FindFunction looks a function up by logical ID (or by name).
func FindFunction(plan *template.Plan, id string) (template.Function, error) {
	var names []string
	for _, fn := range plan.Functions {
		if fn.LogicalID == id || fn.Name == id {
			return fn, nil
		}
		names = append(names, fn.LogicalID)
	}
	return template.Function{}, fmt.Errorf("function %q is not in the template (functions: %v)", id, names)
}
