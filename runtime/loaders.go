package runtime

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime/loader"
)

// Loader is one way to turn a function's source into a Function: its spec
// (name, and what the template lets a function set with it) and its two
// steps. A loader package registers one from its init (RegisterLoader);
// a program gets the loaders it links.
type Loader struct {
	loader.Spec
	// Build compiles the function's code, or finds it in the cache.
	Build func(ctx context.Context, req BuildRequest) (Artifact, error)
	// Load makes a Function of what Build produced.
	Load func(ctx context.Context, art Artifact, req LoadRequest) (*Function, error)
}

// BuildRequest is what a loader's Build step gets.
type BuildRequest struct {
	// Function names the function (its logical ID) in the artifact's file
	// name and in messages.
	Function string
	// Dir is the function's code (CodeUri), an absolute directory.
	Dir string
	// CacheDir is the root of the build caches (each loader keeps its own
	// part of it); "" is the user cache directory.
	CacheDir string
	// Progress receives one line per build step; nil discards.
	Progress io.Writer
	// Clock times the build; nil is the wall clock.
	Clock clock.Clock
}

// Artifact is what a Build step produced: a file in the cache.
type Artifact struct {
	Path string
	// Key is the content hash the artifact is cached under.
	Key string
	// Cached says the build found it and did not run the toolchain.
	Cached bool
}

// LoadRequest is what a loader's Load step gets.
type LoadRequest struct {
	// Config is the function's identity and limits (Config.Clock included).
	Config Config
	// Function names the function (its logical ID) in messages.
	Function string
	// CacheDir is the root of the caches, as in BuildRequest.
	CacheDir string
	// Mounts and SoftTimeout are the sandbox grants of a loader that
	// honours them (Metadata.Sluice.Mounts, SoftTimeout).
	Mounts      map[string]string
	SoftTimeout bool
	// Progress receives notes about how the function was loaded; nil
	// discards.
	Progress io.Writer
}

var (
	loadersMu sync.RWMutex
	loaders   = map[string]Loader{}
)

// RegisterLoader makes l available by name, to the template (through
// runtime/loader) and to LookupLoader. It panics on a duplicate name or a
// loader without its steps, at start-up, where the mistake is cheap to see.
func RegisterLoader(l Loader) {
	if l.Build == nil || l.Load == nil {
		panic("runtime: loader " + l.Name + " lacks a build or load step")
	}
	loader.Register(l.Spec)
	loadersMu.Lock()
	defer loadersMu.Unlock()
	loaders[l.Name] = l
}

// LookupLoader returns the loader registered as name; "" is the default
// loader.
func LookupLoader(name string) (Loader, error) {
	spec, ok := loader.Lookup(name)
	if ok {
		loadersMu.RLock()
		l, ok := loaders[spec.Name]
		loadersMu.RUnlock()
		if ok {
			return l, nil
		}
	}
	return Loader{}, fmt.Errorf("unknown loader %q (want one of %v)", name, loader.Names())
}
