package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/plugin"
	"github.com/sluice-dev/sluice/runtime/wasm"
	"github.com/sluice-dev/sluice/template"
)

type loadedFunction struct {
	tmpl template.Function
	fn   runtime.Invoker
}

type functionStage struct {
	loaded map[string]loadedFunction // by logical ID
}

// loadFunctions builds and loads every function that a mapping invokes.
func (i *instance) loadFunctions(ctx context.Context) error {
	i.funcs.loaded = map[string]loadedFunction{}
	// Functions that a mapping invokes, and those a delivery stream calls
	// as its data-transformation (Lambda processor).
	needed := map[string]bool{}
	for _, ds := range i.plan.DeliveryStreams {
		if ds.TransformFunction != "" {
			needed[ds.TransformFunction] = true
		}
	}
	for _, fn := range i.plan.Functions {
		if len(fn.Events) == 0 && !needed[fn.LogicalID] {
			continue
		}
		logs, err := i.logs.open(i.stateDir, fn.LogicalID, logCapsOf(i.cfg))
		if err != nil {
			return fmt.Errorf("function %s: logs: %w", fn.LogicalID, err)
		}
		f, err := LoadFunctionWith(ctx, i.plan, fn, LoadOptions{CacheDir: i.cfg.CacheDir, Progress: i.cfg.Stderr, Logs: logs})
		if err != nil {
			return err
		}
		i.funcs.loaded[fn.LogicalID] = loadedFunction{tmpl: fn, fn: f}
	}
	return nil
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
	// Loader overrides the template's Metadata.Sluice.Loader: plugin or
	// wasm (`sluice local invoke --loader`).
	Loader string
	// Progress receives build progress; Logs the function's log lines.
	Progress, Logs io.Writer
	// InitTimeout bounds the function's init phase (0: Lambda's 10 s, or
	// what runtime.SetDefaultInitTimeout set).
	InitTimeout time.Duration
}

// Loaders are the values Metadata.Sluice.Loader and --loader accept.
var Loaders = []string{"plugin", "wasm"}

// LoadFunctionWith is LoadFunction with options.
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
	}
	loader := fn.Loader
	if opts.Loader != "" {
		loader = opts.Loader
	}
	switch loader {
	case "", "plugin":
		b := &plugin.Builder{CacheDir: opts.CacheDir, Progress: opts.Progress}
		res, err := b.Build(ctx, fn.LogicalID, fn.CodeDir)
		if err != nil {
			return nil, err
		}
		// A plugin's init cannot be interrupted in-process: LoadContext
		// stops waiting for it (at the init deadline, or on SIGTERM) and
		// fails the load instead of holding start-up hostage.
		handler, err := plugin.LoadContext(ctx, res.Path, cfg.InitTimeout)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", fn.LogicalID, err)
		}
		return runtime.New(cfg, handler)
	case "wasm":
		b := &wasm.Builder{Progress: opts.Progress}
		wopts := wasm.Options{Mounts: fn.Mounts, SoftTimeout: fn.SoftTimeout}
		for guest, host := range fn.Mounts {
			if st, err := os.Stat(host); err != nil || !st.IsDir() {
				return nil, fmt.Errorf("function %s: Metadata.Sluice.Mounts %s: %s is not a directory", fn.LogicalID, guest, host)
			}
		}
		if opts.CacheDir != "" {
			b.CacheDir = filepath.Join(opts.CacheDir, "wasm")
			wopts.CompileCacheDir = filepath.Join(opts.CacheDir, "wasm-compiled")
		}
		res, err := b.Build(ctx, fn.LogicalID, fn.CodeDir)
		if err != nil {
			return nil, err
		}
		code, err := os.ReadFile(res.Path)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", fn.LogicalID, err)
		}
		m, err := wasm.NewModule(ctx, code, cfg, wopts)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", fn.LogicalID, err)
		}
		for _, note := range []string{m.StopNote(), m.InitNote()} {
			if note != "" && opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "sluice: function %s: %s\n", fn.LogicalID, note)
			}
		}
		return runtime.NewWithEngine(cfg, m), nil
	default:
		return nil, fmt.Errorf("function %s: unknown loader %q (want one of %v)", fn.LogicalID, loader, Loaders)
	}
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
