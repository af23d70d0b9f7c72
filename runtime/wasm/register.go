package wasm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/loader"
)

// Name is the loader's name in Metadata.Sluice.Loader.
const Name = "wasm"

func init() {
	runtime.RegisterLoader(runtime.Loader{
		Spec: loader.Spec{
			Name: Name,
			// A guest is a sandbox: it reaches only what it is granted.
			Settings: []string{"Mounts", "SoftTimeout"},
		},
		Build: build,
		Load:  load,
	})
}

// build keeps modules in the cache's wasm directory.
func build(ctx context.Context, req runtime.BuildRequest) (runtime.Artifact, error) {
	b := &Builder{Progress: req.Progress, Clock: req.Clock}
	if req.CacheDir != "" {
		b.CacheDir = filepath.Join(req.CacheDir, "wasm")
	}
	res, err := b.Build(ctx, req.Function, req.Dir)
	return runtime.Artifact(res), err
}

// load compiles the module (its machine code cached in the cache's
// wasm-compiled directory) with the function's grants, and says on
// Progress when it could not be instrumented or its init ran out of time.
func load(ctx context.Context, art runtime.Artifact, req runtime.LoadRequest) (*runtime.Function, error) {
	opts := Options{Mounts: req.Mounts, SoftTimeout: req.SoftTimeout}
	for guest, host := range req.Mounts {
		if st, err := os.Stat(host); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("function %s: Metadata.Sluice.Mounts %s: %s is not a directory", req.Function, guest, host)
		}
	}
	if req.CacheDir != "" {
		opts.CompileCacheDir = filepath.Join(req.CacheDir, "wasm-compiled")
	}
	code, err := os.ReadFile(art.Path)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", req.Function, err)
	}
	m, err := NewModule(ctx, code, req.Config, opts)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", req.Function, err)
	}
	for _, note := range []string{m.StopNote(), m.InitNote()} {
		if note != "" && req.Progress != nil {
			fmt.Fprintf(req.Progress, "sluice: function %s: %s\n", req.Function, note)
		}
	}
	return runtime.NewWithEngine(req.Config, m), nil
}
