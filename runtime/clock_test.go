package runtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime"
)

// TestTimeoutRunsOnTheFunctionsClock: the invocation's timeout is measured
// on Config.Clock, so a fake clock expires it when advanced, without the
// test waiting for it.
func TestTimeoutRunsOnTheFunctionsClock(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	fn, err := runtime.New(runtime.Config{Name: "Slow", Timeout: time.Hour, Clock: fake}, func(ctx context.Context, _ map[string]any) error {
		<-ctx.Done()
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := fn.Invoke(context.Background(), []byte(`{}`))
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fake.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("the invocation never armed its timeout: %v", err)
	}
	fake.Advance(time.Hour)
	var ie *runtime.InvokeError
	if err := <-done; !errors.As(err, &ie) || ie.Type != "Sandbox.Timedout" {
		t.Fatalf("got %v, want Sandbox.Timedout", err)
	}
	if !fn.Unhealthy() {
		t.Error("an abandoned call does not mark the function unhealthy")
	}
}
