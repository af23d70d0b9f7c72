package app

import (
	"context"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/plugin"
	"github.com/sluice-dev/sluice/template"
)

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
