package plugin

import (
	"fmt"
	goplugin "plugin"
	"strings"
	"sync"

	"github.com/sluice-dev/sluice/sdk/host"
)

var (
	loadedMu sync.Mutex
	loaded   = map[string]*goplugin.Plugin{} // by file path: a plugin opens once per process
)

// Load checks a built plugin's fingerprint, opens it and returns the handler
// its main() passes to sdk.Start.
func Load(path string) (any, error) {
	loadedMu.Lock()
	p, ok := loaded[path]
	loadedMu.Unlock()
	if !ok {
		if err := CheckFile(path); err != nil {
			return nil, err
		}
		var err error
		p, err = goplugin.Open(path)
		if err != nil {
			if strings.Contains(err.Error(), "already loaded") {
				return nil, fmt.Errorf("opening plugin %s: another build of the same function code is already loaded in this process and Go plugins cannot be unloaded; restart sluice to load it: %w", path, err)
			}
			return nil, fmt.Errorf("opening plugin %s: %w", path, err)
		}
		loadedMu.Lock()
		loaded[path] = p
		loadedMu.Unlock()
	}
	sym, err := p.Lookup(EntrySymbol)
	if err != nil {
		return nil, fmt.Errorf("plugin %s has no %s: was it built by sluice? %w", path, EntrySymbol, err)
	}
	entry, ok := sym.(func())
	if !ok {
		return nil, fmt.Errorf("plugin %s: %s is a %T, not func()", path, EntrySymbol, sym)
	}
	handler, err := host.Capture(entry)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", path, err)
	}
	return handler, nil
}
