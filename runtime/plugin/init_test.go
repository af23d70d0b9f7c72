package plugin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/plugin"
)

// TestLoadHasADeadline: a plugin whose init never returns (here a stand-in
// for plugin.Open and main(): a real one would keep spinning in the test
// binary) no longer hangs the load. The load fails once the init phase is
// over, or at once when ctx is cancelled, saying the init cannot be
// stopped; a load held up behind it names it.
func TestLoadHasADeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	restore := plugin.SetOpen(func(string) (any, error) {
		<-release
		return nil, errors.New("released")
	})
	defer restore()

	start := time.Now()
	_, err := plugin.LoadContext(context.Background(), "/cache/stuck.so", 100*time.Millisecond)
	if !errors.Is(err, runtime.ErrInitTimeout) || !strings.Contains(err.Error(), "loading plugin /cache/stuck.so: init (main) did not finish within the 100ms init phase") ||
		!strings.Contains(err.Error(), "cannot be stopped") {
		t.Errorf("load: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("load took %s", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err = plugin.LoadContext(ctx, "/cache/next.so", time.Hour)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "the init of /cache/stuck.so has not finished either") {
		t.Errorf("load after cancel: %v", err)
	}
}
