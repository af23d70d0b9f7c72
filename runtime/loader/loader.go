// Package loader names the ways Sluice can load a function — Go plugins,
// WASM modules, and whatever registers next — and says what each accepts,
// so that the template can check Metadata.Sluice.Loader and the settings
// that depend on it without linking the loaders themselves (no wazero, no
// Go plugins: this package imports the standard library only).
//
// A loader registers its Spec through runtime.RegisterLoader, together with
// its build and load steps, from its own package's init; a program (or a
// test) that links the loader package gets it. Nothing here lists the
// loaders by name.
package loader

import (
	"fmt"
	"slices"
	"sync"
)

// Spec is what the template needs to know about a loader.
type Spec struct {
	// Name is the value of Metadata.Sluice.Loader (and --loader).
	Name string
	// Default marks the loader of a function that names none. One loader
	// is the default.
	Default bool
	// GoOnly says the loader builds Go code only: a function's Runtime
	// must be one of Go's (provided.*, go1.x).
	GoOnly bool
	// Settings are the Metadata.Sluice settings beyond those every loader
	// reads that this one honours (a sandbox's grants: Mounts,
	// SoftTimeout).
	Settings []string
	// Refusals say, for a setting other loaders honour and this one does
	// not, why it means nothing here; the template's error quotes it.
	Refusals map[string]string
}

// Honours reports whether the loader reads setting.
func (s Spec) Honours(setting string) bool { return slices.Contains(s.Settings, setting) }

var (
	mu    sync.RWMutex
	specs = map[string]Spec{}
)

// Register adds a loader's spec; runtime.RegisterLoader calls it. It panics
// on a duplicate name or a second default, at start-up, where the mistake
// is cheap to see.
func Register(s Spec) {
	mu.Lock()
	defer mu.Unlock()
	if s.Name == "" {
		panic("loader: a loader needs a name")
	}
	if _, dup := specs[s.Name]; dup {
		panic("loader: " + s.Name + " registered twice")
	}
	if s.Default {
		for _, o := range specs {
			if o.Default {
				panic(fmt.Sprintf("loader: %s and %s are both the default", o.Name, s.Name))
			}
		}
	}
	specs[s.Name] = s
}

// Lookup returns the spec registered as name; "" is the default loader.
func Lookup(name string) (Spec, bool) {
	mu.RLock()
	defer mu.RUnlock()
	if name == "" {
		for _, s := range specs {
			if s.Default {
				return s, true
			}
		}
		return Spec{}, false
	}
	s, ok := specs[name]
	return s, ok
}

// Default is the name of the default loader ("" when none is registered).
func Default() string {
	s, _ := Lookup("")
	return s.Name
}

// Names lists the registered loaders, sorted.
func Names() []string {
	return Matching(func(Spec) bool { return true })
}

// Matching lists the registered loaders whose spec satisfies keep, sorted:
// e.g. those that honour a setting, or that run other languages than Go.
func Matching(keep func(Spec) bool) []string {
	mu.RLock()
	defer mu.RUnlock()
	var names []string
	for n, s := range specs {
		if keep(s) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}
