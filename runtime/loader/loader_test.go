package loader_test

import (
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/runtime/loader"
)

// This test binary links no loader package: the registry holds what the
// test registers.
func TestRegistry(t *testing.T) {
	if loader.Default() != "" || len(loader.Names()) != 0 {
		t.Fatalf("empty registry: default %q, names %v", loader.Default(), loader.Names())
	}
	loader.Register(loader.Spec{Name: "native", Default: true, GoOnly: true})
	loader.Register(loader.Spec{Name: "guest", Settings: []string{"Mounts"}})
	if got := loader.Names(); !slices.Equal(got, []string{"guest", "native"}) {
		t.Errorf("names %v", got)
	}
	if s, ok := loader.Lookup(""); !ok || s.Name != "native" {
		t.Errorf("default %v %v", s, ok)
	}
	if s, ok := loader.Lookup("guest"); !ok || !s.Honours("Mounts") || s.Honours("SoftTimeout") {
		t.Errorf("guest %+v %v", s, ok)
	}
	if _, ok := loader.Lookup("nope"); ok {
		t.Error("found an unregistered loader")
	}
	if got := loader.Matching(func(s loader.Spec) bool { return !s.GoOnly }); !slices.Equal(got, []string{"guest"}) {
		t.Errorf("non-Go loaders %v", got)
	}
	for name, spec := range map[string]loader.Spec{
		"a duplicate name": {Name: "guest"},
		"a second default": {Name: "other", Default: true},
		"no name":          {},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("registering %s did not panic", name)
				}
			}()
			loader.Register(spec)
		}()
	}
}
