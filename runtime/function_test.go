package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

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
