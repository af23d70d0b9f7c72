package plugin

import (
	"context"
	"fmt"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/loader"
)

// Name is the loader's name in Metadata.Sluice.Loader: the default.
const Name = "plugin"

func init() {
	runtime.RegisterLoader(runtime.Loader{
		Spec: loader.Spec{
			Name:    Name,
			Default: true,
			GoOnly:  true,
			// A plugin runs in sluice's own process: no sandbox to grant
			// anything beyond, and nothing to stop it.
			Refusals: map[string]string{
				"SoftTimeout": "a plugin's timeout is always soft (its call is abandoned, not stopped)",
				"Mounts":      "a plugin shares the host's process and sees its whole file system",
			},
		},
		Build: build,
		Load:  load,
	})
}

// build keeps plugins at the cache's root, where they have always been.
func build(ctx context.Context, req runtime.BuildRequest) (runtime.Artifact, error) {
	b := &Builder{CacheDir: req.CacheDir, Progress: req.Progress, Clock: req.Clock}
	res, err := b.Build(ctx, req.Function, req.Dir)
	return runtime.Artifact(res), err
}

// load opens the plugin and wraps its handler. A plugin's init cannot be
// interrupted in-process: loadOn stops waiting for it (at the init
// deadline, or when ctx ends, on SIGTERM) and fails the load instead of
// holding start-up hostage.
func load(ctx context.Context, art runtime.Artifact, req runtime.LoadRequest) (*runtime.Function, error) {
	handler, err := loadOn(ctx, clock.Or(req.Config.Clock), art.Path, req.Config.InitTimeout)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", req.Function, err)
	}
	return runtime.New(req.Config, handler)
}
