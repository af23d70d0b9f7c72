package app

import (
	"context"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/plugin"
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
	for _, fn := range i.plan.Functions {
		if len(fn.Events) == 0 {
			continue
		}
		f, err := LoadFunction(ctx, i.plan, fn, i.cfg.CacheDir, i.cfg.Stderr)
		if err != nil {
			return err
		}
		i.funcs.loaded[fn.LogicalID] = loadedFunction{tmpl: fn, fn: f}
	}
	return nil
}

// LoadFunction builds (or finds cached) and loads one function of the plan.
// Build progress goes to progress.
func LoadFunction(ctx context.Context, plan *template.Plan, fn template.Function, cacheDir string, progress io.Writer) (*runtime.Function, error) {
	switch fn.Loader {
	case "", "plugin":
	default:
		return nil, fmt.Errorf("function %s: loader %q is not available yet (plugin is)", fn.LogicalID, fn.Loader)
	}
	b := &plugin.Builder{CacheDir: cacheDir, Progress: progress}
	res, err := b.Build(ctx, fn.LogicalID, fn.CodeDir)
	if err != nil {
		return nil, err
	}
	handler, err := plugin.Load(res.Path)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", fn.LogicalID, err)
	}
	env := map[string]string{}
	for k, v := range fn.Environment {
		env[k] = v
	}
	return runtime.New(runtime.Config{
		Name:     fn.Name,
		MemoryMB: fn.MemorySize,
		Timeout:  fn.Timeout,
		Env:      env,
	}, handler)
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
