// Package runtime is the function host: it turns a loaded handler into a
// Function that can be invoked with a raw Lambda payload, and gives every
// invocation what AWS Lambda gives it — a request ID, a deadline, the
// function's identity and environment on the context — and turns every way a
// handler can fail (returned error, panic, timeout) into a Lambda-shaped
// error.
//
// Loaders live in sub-packages: runtime/plugin loads Go plugins; the WASM
// loader comes beside it. The host knows nothing of streams or sinks.
package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/sluice-dev/sluice/sdk/host"
)

// Invoker is the narrow interface triggers invoke through: a raw Lambda
// payload in, the raw response out. The error, when non-nil, is an
// *InvokeError.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Config is a function's identity and limits, as the template declares them.
type Config struct {
	Name      string
	Version   string // "$LATEST" unless set
	Region    string
	AccountID string
	MemoryMB  int
	Timeout   time.Duration
	Env       map[string]string
}

// ARN returns the function's ARN in Lambda's format.
func (c Config) ARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", orDefault(c.Region, "us-east-1"), orDefault(c.AccountID, "000000000000"), c.Name)
}

// Function is a loaded handler with its configuration.
type Function struct {
	cfg     Config
	handler any

	// idle holds lambda.Handler instances not in use. aws-lambda-go's
	// Handler.Invoke returns a slice of a pooled buffer that the next
	// Invoke on the same Handler overwrites, so each concurrent invocation
	// takes its own instance and copies the response before returning it.
	// An instance abandoned by a timed-out call is never reused.
	idleMu sync.Mutex
	idle   []lambda.Handler

	invocations atomic.Int64
	timeouts    atomic.Int64
	unhealthy   atomic.Bool
}

// New wraps a handler of any signature lambda.Start accepts.
func New(cfg Config, handler any) (*Function, error) {
	if handler == nil {
		return nil, fmt.Errorf("function %s: nil handler", cfg.Name)
	}
	if reflect.TypeOf(handler).Kind() != reflect.Func {
		if _, ok := handler.(lambda.Handler); !ok {
			return nil, fmt.Errorf("function %s: handler is a %T, not a function", cfg.Name, handler)
		}
	}
	if cfg.Version == "" {
		cfg.Version = "$LATEST"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.MemoryMB <= 0 {
		cfg.MemoryMB = 128
	}
	return &Function{cfg: cfg, handler: handler}, nil
}

func (f *Function) take() lambda.Handler {
	f.idleMu.Lock()
	defer f.idleMu.Unlock()
	if n := len(f.idle); n > 0 {
		h := f.idle[n-1]
		f.idle = f.idle[:n-1]
		return h
	}
	if h, ok := f.handler.(lambda.Handler); ok {
		return h
	}
	return lambda.NewHandler(f.handler)
}

func (f *Function) release(h lambda.Handler) {
	f.idleMu.Lock()
	f.idle = append(f.idle, h)
	f.idleMu.Unlock()
}

// Config returns the function's configuration.
func (f *Function) Config() Config { return f.cfg }

// Unhealthy reports whether an invocation was abandoned on timeout. A plugin
// shares the host's process, so a timed-out call cannot be stopped: it keeps
// running in the background and the function is marked unhealthy.
func (f *Function) Unhealthy() bool { return f.unhealthy.Load() }

// Invoke runs the handler once with payload, under the function's timeout.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.invocations.Add(1)
	requestID := newRequestID()
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       requestID,
		InvokedFunctionArn: f.cfg.ARN(),
	})
	ctx = host.WithEnv(ctx, f.cfg.Env)

	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1) // buffered: an abandoned call must not leak blocked
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: &InvokeError{
					Message:    fmt.Sprint(p),
					Type:       "Runtime.Panic",
					StackTrace: stackLines(debug.Stack()),
					RequestID:  requestID,
				}}
			}
			done <- r
		}()
		h := f.take()
		out, err := h.Invoke(ctx, payload)
		if err != nil {
			r = result{err: handlerError(err, requestID)}
		} else {
			r = result{out: bytes.Clone(out)}
		}
		f.release(h) // not reached after a panic: that instance is dropped
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			f.timeouts.Add(1)
			f.unhealthy.Store(true)
			return nil, &InvokeError{
				Message:   fmt.Sprintf("%s Task timed out after %.2f seconds", requestID, f.cfg.Timeout.Seconds()),
				Type:      "Sandbox.Timedout",
				RequestID: requestID,
			}
		}
		return nil, &InvokeError{Message: ctx.Err().Error(), Type: "Runtime.Cancelled", RequestID: requestID}
	}
}

// InvokeError is a function error in Lambda's shape: what `sam local invoke`
// prints and what a failure record's responseContext reports as
// functionError "Unhandled".
type InvokeError struct {
	Message    string   `json:"errorMessage"`
	Type       string   `json:"errorType"`
	StackTrace []string `json:"stackTrace,omitempty"`
	RequestID  string   `json:"-"`
}

func (e *InvokeError) Error() string { return e.Type + ": " + e.Message }

// JSON returns the error as Lambda's error response document.
func (e *InvokeError) JSON() []byte {
	b, _ := json.Marshal(e)
	return b
}

// handlerError shapes an error returned by a handler. aws-lambda-go names the
// type after the Go error type (e.g. "errorString"), as Lambda reports it.
func handlerError(err error, requestID string) *InvokeError {
	var ie *InvokeError
	if errors.As(err, &ie) {
		return ie
	}
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return &InvokeError{Message: err.Error(), Type: t.Name(), RequestID: requestID}
}

func stackLines(stack []byte) []string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	if len(lines) > 40 {
		lines = lines[:40]
	}
	return lines
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
