package runtime

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Lambda's init phase, as Sluice reproduces it.
//
// On Lambda the init phase (runtime start-up and the function's static
// code: Go's package initialisers and main() up to lambda.Start) is limited
// to 10 s. When it runs out, the deployment still succeeds; Lambda retries
// the init once when the first invocation arrives, inside that invocation
// and under the function's configured timeout (a "suppressed init"). If
// that fails too, the invocation fails as any timeout does: errorType
// Sandbox.Timedout, "Task timed out after N seconds", and the logs carry an
// INIT_REPORT line with Status: timeout. Sources relied on: the Lambda
// developer guide, "Understanding the Lambda execution environment
// lifecycle" (Init phase: "limited to 10 seconds … Lambda retries the Init
// phase at the time of the first function invocation with the configured
// function timeout") and "Troubleshoot invocation issues in Lambda",
// section "Function times out during Init phase (Sandbox.Timedout)";
// Sandbox.Timedout is the error type the Lambda Runtime Interface Emulator
// (aws-lambda-runtime-interface-emulator) and Lambda report for a timed-out
// invocation.

// DefaultInitTimeout is Lambda's init phase limit.
const DefaultInitTimeout = 10 * time.Second

// InitPhaseTimeout is how long the function's init phase may run before it
// is stopped and left to the first invocation: Config.InitTimeout, else
// DefaultInitTimeout (`sluice local invoke --init-timeout` sets the former).
func (c Config) InitPhaseTimeout() time.Duration {
	if c.InitTimeout > 0 {
		return c.InitTimeout
	}
	return DefaultInitTimeout
}

// ErrInitTimeout is what an Engine's Prepare returns (wrapped) when the
// function's init phase ran out of its InitPhaseTimeout, and what Call
// returns (wrapped) when the init retried inside an invocation was stopped
// at the invocation's deadline. After Prepare returns it, Function runs the
// invocation anyway, so that Call retries the init under the function's
// Timeout, as Lambda does.
var ErrInitTimeout = errors.New("init phase timed out")

// InitTimeoutError says which function's init ran out of time, and after
// how long; it matches ErrInitTimeout with errors.Is. Its message leaves
// the function's name to the caller's wrapping.
type InitTimeoutError struct {
	Function string
	After    time.Duration // the init phase's limit (Phase "init")
	// Phase is "init" (the init phase, before any invocation) or "invoke"
	// (the init retried inside an invocation).
	Phase string
}

func (e *InitTimeoutError) Error() string {
	if e.Phase == "invoke" {
		return "init (main) did not finish within the invocation's timeout"
	}
	return fmt.Sprintf("init (main) did not finish within the %s init phase", e.After)
}

// Is makes errors.Is(err, ErrInitTimeout) true.
func (e *InitTimeoutError) Is(target error) bool { return target == ErrInitTimeout }

// WriteInitReport writes Lambda's INIT_REPORT log line for an init phase
// that did not succeed (status "timeout" or "error"), in one Write so that
// it never interleaves with other lines; w nil writes nothing.
func WriteInitReport(w io.Writer, d time.Duration, phase, status string) {
	if w == nil {
		return
	}
	line := fmt.Sprintf("INIT_REPORT Init Duration: %.2f ms\tPhase: %s\tStatus: %s\n", float64(d.Microseconds())/1000, phase, status)
	_, _ = io.WriteString(w, line)
}
