package runtime_test

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
)

// Concurrent invocations must each get their own response: aws-lambda-go
// hands back a pooled buffer that the next Invoke on the same Handler
// reuses, which once let one shard's batch see another's output.
func TestConcurrentInvocationsDoNotShareResponses(t *testing.T) {
	fn, err := runtime.New(runtime.Config{Name: "Double"}, func(_ context.Context, n int) (int, error) { return 2 * n, nil })
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([][]byte, 64)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				out, err := fn.Invoke(context.Background(), fmt.Appendf(nil, "%d", i))
				if err != nil {
					t.Error(err)
					return
				}
				outs[i] = out
			}
		}()
	}
	wg.Wait()
	for i, out := range outs {
		if want := fmt.Sprintf("%d\n", 2*i); string(out) != want && string(out) != want[:len(want)-1] {
			t.Errorf("invocation %d got %q, want %q", i, out, want)
		}
	}
}

func TestLambdaContextAndEnvironment(t *testing.T) {
	fn, err := runtime.New(runtime.Config{Name: "Ctx", Region: "eu-west-1", Timeout: time.Second, Env: map[string]string{"STAGE": "test"}},
		func(ctx context.Context) (map[string]any, error) {
			lc, ok := lambdacontext.FromContext(ctx)
			if !ok {
				return nil, errors.New("no lambda context")
			}
			deadline, _ := ctx.Deadline()
			return map[string]any{"arn": lc.InvokedFunctionArn, "rid": lc.AwsRequestID != "", "stage": sdk.Env(ctx, "STAGE"), "deadline": !deadline.IsZero()}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	out, err := fn.Invoke(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"arn":"arn:aws:lambda:eu-west-1:000000000000:function:Ctx","deadline":true,"rid":true,"stage":"test"}`
	if got := string(out); got != want+"\n" && got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestNewRejectsNonFunctions(t *testing.T) {
	if _, err := runtime.New(runtime.Config{Name: "X"}, 42); err == nil {
		t.Error("a non-function handler was accepted")
	}
	if _, err := runtime.New(runtime.Config{Name: "X"}, nil); err == nil {
		t.Error("a nil handler was accepted")
	}
}

// ReservedConcurrency queues invocations beyond the cap instead of failing
// them: with a cap of 2, eight concurrent calls all succeed and at most two
// run at once.
func TestReservedConcurrencyQueues(t *testing.T) {
	var running, peak atomic.Int32
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	fn, err := runtime.New(runtime.Config{Name: "Capped", ReservedConcurrency: 2, Timeout: 10 * time.Second}, func(context.Context) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		running.Add(-1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := fn.Invoke(context.Background(), []byte(`{}`))
			errs <- err
		}()
	}
	<-entered
	<-entered
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak concurrency %d, want 2", p)
	}
}

// A caller that gives up while queued gets Runtime.Cancelled, not a hang.
func TestQueuedInvocationHonoursCancel(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	fn, _ := runtime.New(runtime.Config{Name: "One", ReservedConcurrency: 1, Timeout: 10 * time.Second}, func(context.Context) error { <-block; return nil })
	started := make(chan struct{})
	go func() { close(started); _, _ = fn.Invoke(context.Background(), []byte(`{}`)) }()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for fn.Stats().Invocations == 0 {
			goruntime.Gosched()
		}
		cancel()
	}()
	_, err := fn.Invoke(ctx, []byte(`{}`))
	var ie *runtime.InvokeError
	if !errors.As(err, &ie) || ie.Type != "Runtime.Cancelled" {
		t.Fatalf("got %v", err)
	}
}

// Function identity reaches the handler through the context in every
// loader: sdk.Env sees Lambda's own variables.
func TestLambdaVariablesOnContext(t *testing.T) {
	fn, _ := runtime.New(runtime.Config{Name: "Named", MemoryMB: 256, Version: "7"}, func(ctx context.Context) (string, error) {
		return sdk.Env(ctx, "AWS_LAMBDA_FUNCTION_NAME") + "/" + sdk.Env(ctx, "AWS_LAMBDA_FUNCTION_VERSION") + "/" + sdk.Env(ctx, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), nil
	})
	out, err := fn.Invoke(context.Background(), []byte(`{}`))
	if err != nil || string(out) != `"Named/7/256"` {
		t.Fatalf("got %s, %v", out, err)
	}
}

// TestAbandonedCallReturnsLate: calls abandoned on timeout (typed and JSON
// paths) that return afterwards hand their results to nobody — under -race
// this checks they write no memory the caller reads — and the function is
// marked unhealthy.
func TestAbandonedCallReturnsLate(t *testing.T) {
	base := goruntime.NumGoroutine()
	returned := make(chan struct{}, 2)
	late := func(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
		<-ctx.Done() // the deadline passes: caller and handler return independently
		defer func() { returned <- struct{}{} }()
		return sdk.StreamResponse{Records: []sdk.OutputRecord{{Data: []byte("late")}}}, nil
	}
	fn, err := runtime.New(runtime.Config{Name: "Late", Timeout: 20 * time.Millisecond}, late)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fn.InvokeKinesis(context.Background(), &events.KinesisEvent{}); err == nil {
		t.Fatal("typed call: want a timeout error")
	}
	if _, err := fn.Invoke(context.Background(), []byte(`{"Records":[]}`)); err == nil {
		t.Fatal("JSON call: want a timeout error")
	}
	<-returned
	<-returned
	// Let the abandoned calls' goroutines run to their end, where a result
	// is handed over (nothing signals that moment: wait for them to exit).
	for deadline := time.Now().Add(10 * time.Second); goruntime.NumGoroutine() > base; {
		if time.Now().After(deadline) {
			t.Fatalf("abandoned calls still running: %d goroutines, want %d", goruntime.NumGoroutine(), base)
		}
		goruntime.Gosched()
	}
	if !fn.Unhealthy() {
		t.Error("a function with abandoned calls is not marked unhealthy")
	}
}

// slowStart is an engine whose instances take longer to start than the
// function's timeout, and whose handler answers at once.
type slowStart struct {
	start    time.Duration
	prepared atomic.Int32
}

func (s *slowStart) Prepare(ctx context.Context) (any, error) {
	time.Sleep(s.start) // the cold start being measured, not a synchronisation
	s.prepared.Add(1)
	return "instance", nil
}

func (s *slowStart) Call(_ context.Context, inv *runtime.Invocation) ([]byte, error) {
	if inv.Prepared != "instance" {
		return nil, errors.New("the call did not get the prepared instance")
	}
	return []byte(`"ok"`), nil
}

// TestColdStartIsNotPartOfTheTimeout: as on Lambda, where the init phase
// has its own limit, an engine's cold start (Prepare) runs before the
// invocation's timeout starts, so a start slower than the timeout does not
// turn into Sandbox.Timedout. (A WASM function whose instance was replaced
// after a crash timed out its next call on a loaded machine.)
func TestColdStartIsNotPartOfTheTimeout(t *testing.T) {
	eng := &slowStart{start: 150 * time.Millisecond}
	fn := runtime.NewWithEngine(runtime.Config{Name: "Slow", Timeout: 50 * time.Millisecond}, runtime.JSONEngine(eng))
	out, err := fn.Invoke(context.Background(), []byte(`{}`))
	if err != nil || string(out) != `"ok"` {
		t.Fatalf("got %s, %v; want the handler's answer", out, err)
	}
	if eng.prepared.Load() != 1 {
		t.Fatalf("Prepare ran %d times, want once", eng.prepared.Load())
	}
}

// initEngine is an Engine whose init phase always runs out (Prepare) and
// whose retried init inside the invocation runs until the deadline, as a
// WASM guest whose main() never returns does.
type initEngine struct {
	prepared, called atomic.Int64
	prepareErr       error
}

func (e *initEngine) Prepare(ctx context.Context) (any, error) {
	e.prepared.Add(1)
	return nil, e.prepareErr
}

func (e *initEngine) Call(ctx context.Context, inv *runtime.Invocation) ([]byte, error) {
	e.called.Add(1)
	if inv.Prepared != nil {
		return nil, errors.New("got a prepared instance after the init timed out")
	}
	<-ctx.Done()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, &runtime.InitTimeoutError{Phase: "invoke"}
	}
	return nil, ctx.Err()
}

// TestInitTimeoutIsRetriedInTheInvocation: when the engine's init phase
// times out the invocation still runs, so the engine can retry the init
// under the function's Timeout (Lambda's suppressed init); when that runs
// out the caller sees Lambda's Sandbox.Timedout, saying it was the init,
// and the log gets the INIT_REPORT line. Any other init failure ends the
// invocation at once, and a cancelled caller gets Runtime.Cancelled.
func TestInitTimeoutIsRetriedInTheInvocation(t *testing.T) {
	var logs strings.Builder
	e := &initEngine{prepareErr: fmt.Errorf("function F: %w", &runtime.InitTimeoutError{After: time.Second, Phase: "init"})}
	fn := runtime.NewWithEngine(runtime.Config{Name: "F", Timeout: 100 * time.Millisecond, InitTimeout: time.Second, Logs: &logs}, runtime.JSONEngine(e))
	_, err := fn.Invoke(context.Background(), []byte(`{}`))
	var ie *runtime.InvokeError
	if !errors.As(err, &ie) || ie.Type != "Sandbox.Timedout" || !strings.Contains(ie.Message, "Task timed out after 0.10 seconds: the function's init (main) did not finish, neither in the 1.00 s init phase nor when retried") {
		t.Fatalf("got %v", err)
	}
	if e.prepared.Load() != 1 || e.called.Load() != 1 {
		t.Errorf("Prepare %d, Call %d times; want 1 and 1", e.prepared.Load(), e.called.Load())
	}
	if !strings.Contains(logs.String(), ie.RequestID+"\tINIT_REPORT Init Duration: ") || !strings.Contains(logs.String(), "\tPhase: invoke\tStatus: timeout\n") {
		t.Errorf("log %q", logs.String())
	}

	e = &initEngine{prepareErr: errors.New("instantiating module: bad magic")}
	fn = runtime.NewWithEngine(runtime.Config{Name: "F", Timeout: time.Hour}, runtime.JSONEngine(e))
	if _, err := fn.Invoke(context.Background(), []byte(`{}`)); !errors.As(err, &ie) || !strings.Contains(ie.Message, "bad magic") || e.called.Load() != 0 {
		t.Errorf("a failed init: %v after %d calls", err, e.called.Load())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e = &initEngine{prepareErr: context.Canceled}
	fn = runtime.NewWithEngine(runtime.Config{Name: "F", Timeout: time.Hour}, runtime.JSONEngine(e))
	if _, err := fn.Invoke(ctx, []byte(`{}`)); !errors.As(err, &ie) || ie.Type != "Runtime.Cancelled" {
		t.Errorf("cancelled during init: %v", err)
	}
}

// TestInitPhaseTimeoutDefault: Lambda's 10 s unless the Config (local
// invoke --init-timeout) says otherwise.
func TestInitPhaseTimeoutDefault(t *testing.T) {
	if got := (runtime.Config{}).InitPhaseTimeout(); got != 10*time.Second {
		t.Errorf("default %s", got)
	}
	if got := (runtime.Config{InitTimeout: time.Minute}).InitPhaseTimeout(); got != time.Minute {
		t.Errorf("configured %s", got)
	}
}
