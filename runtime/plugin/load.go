package plugin

import (
	"context"
	"fmt"
	goplugin "plugin"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk/host"
)

var (
	loadedMu sync.Mutex
	loaded   = map[string]*goplugin.Plugin{} // by file path: a plugin opens once per process
)

// Load checks a built plugin's fingerprint, opens it and returns the handler
// its main() passes to sdk.Start, within the default init phase (see
// LoadContext).
func Load(path string) (any, error) {
	return LoadContext(context.Background(), path, 0)
}

// LoadContext is Load with a deadline: the plugin's init — its packages'
// init functions, run by plugin.Open, and main() up to sdk.Start — gets
// initTimeout (<= 0: runtime.Config's default, Lambda's 10 s), and ctx.
//
// What is not possible: a Go plugin's init runs in sluice's own process
// and Go cannot stop a goroutine from outside, so an init that spins or
// sleeps cannot be interrupted, nor retried as Lambda retries a timed-out
// init. LoadContext stops waiting for it: the function fails to load with
// an error that says so, instead of hanging start-up, and the init keeps
// running in the background until it returns, if ever. Until then a main()
// that has not reached sdk.Start holds the plugin loader (sdk/host), so
// later plugin loads wait for it too and fail the same way, naming it. The
// WASM loader stops a stuck init for real.
func LoadContext(ctx context.Context, path string, initTimeout time.Duration) (any, error) {
	return loadOn(ctx, clock.Real(), path, initTimeout)
}

// loadOn is LoadContext with the init deadline timed on clk.
func loadOn(ctx context.Context, clk clock.Clock, path string, initTimeout time.Duration) (any, error) {
	if initTimeout <= 0 {
		initTimeout = runtime.Config{}.InitPhaseTimeout()
	}
	type result struct {
		handler any
		err     error
	}
	done := make(chan result, 1) // buffered: an abandoned load must not block forever
	open := openPlugin
	go func() {
		h, err := open(path)
		done <- result{h, err}
	}()
	t := clk.NewTimer(initTimeout)
	defer t.Stop()
	var cause error
	select {
	case r := <-done:
		return r.handler, r.err
	case <-t.Chan():
		cause = &runtime.InitTimeoutError{After: initTimeout, Phase: "init"}
	case <-ctx.Done():
		cause = fmt.Errorf("stopped waiting for its init: %w", ctx.Err())
	}
	holder := stuck.begin(path)
	go func() {
		<-done
		stuck.end(path)
	}()
	note := "a plugin runs inside sluice's process and cannot be stopped: its init keeps running in the background (the wasm loader stops a stuck init)"
	if holder != "" && holder != path {
		note += fmt.Sprintf("; the init of %s has not finished either and may be what holds this one up (plugins run their main() one at a time)", holder)
	}
	return nil, fmt.Errorf("loading plugin %s: %w; %s", path, cause, note)
}

// stuck remembers the plugins whose load was abandoned and is still
// running, so that a load held up behind one can name it.
var stuck = &stuckLoads{running: map[string]int{}}

type stuckLoads struct {
	mu      sync.Mutex
	running map[string]int // path → abandoned loads still running
	first   string         // the oldest still running
}

// begin records an abandoned load of path and returns the oldest one
// still running before it ("" if none).
func (s *stuckLoads) begin(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	holder := s.first
	s.running[path]++
	if s.first == "" {
		s.first = path
	}
	return holder
}

func (s *stuckLoads) end(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[path]--; s.running[path] <= 0 {
		delete(s.running, path)
	}
	if _, ok := s.running[s.first]; !ok {
		s.first = ""
		for p := range s.running {
			s.first = p
			break
		}
	}
}

// openPlugin is open; tests replace it with a load that never ends (a
// real one would leave a spinning plugin in the test binary).
var openPlugin = open

// open checks the fingerprint, opens the plugin (running its packages'
// init functions) and runs its main() to capture the handler.
func open(path string) (any, error) {
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
