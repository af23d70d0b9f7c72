// Package runtime is the function host: it turns a loaded handler into a
// Function that can be invoked with a raw Lambda payload, and gives every
// invocation what AWS Lambda gives it — a request ID, a deadline, the
// function's identity and environment on the context — and turns every way a
// handler can fail (returned error, panic, timeout) into a Lambda-shaped
// error.
//
// Loaders live in sub-packages: runtime/plugin loads Go plugins,
// runtime/wasm runs WASM modules; each supplies an Engine and registers
// itself by name with its build and load steps (RegisterLoader). The host
// knows nothing of streams or sinks.
package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/sdk"
	"github.com/sluice-dev/sluice/sdk/host"
)

// Invoker is the one invoke contract, what triggers call: a raw Lambda
// payload in and the raw response out (Invoke), or, for a caller that holds
// a decoded batch already (an event-source mapping), the batch in and the
// handler's StreamResponse out without JSON on the way (InvokeKinesis). The
// error, when non-nil, is an *InvokeError. *Function implements it for
// every loader; JSONInvoker adapts code that speaks JSON only.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
	// InvokeKinesis has Invoke's semantics; its result is what Invoke's
	// JSON would decode to.
	InvokeKinesis(ctx context.Context, e *events.KinesisEvent) (*KinesisResult, error)
}

// KinesisResult is what a typed Kinesis invocation returned.
type KinesisResult struct {
	// Response is the handler's response: its own value on the typed path,
	// decoded from its JSON otherwise (anything that is not a
	// StreamResponse reads as an empty one, as on Lambda).
	Response sdk.StreamResponse
	// JSON is the handler's JSON body when the call went through the JSON
	// path (a handler of another signature, a guest without the binary
	// ABI), nil on the typed path. A typed response cannot hold a null,
	// numeric or malformed batch item identifier; a JSON one can, and a
	// caller that must tell them apart as Lambda does
	// (ReportBatchItemFailures) reads this.
	JSON []byte
}

// Config is a function's identity and limits, as the template declares them.
type Config struct {
	Name      string
	Version   string // "$LATEST" unless set
	Region    string
	AccountID string
	MemoryMB  int
	Timeout   time.Duration
	// InitTimeout limits the init phase (a WASM guest's start-up and
	// main() up to sdk.Start; a plugin's load): 0 means
	// DefaultInitTimeout, Lambda's 10 s (see InitPhaseTimeout). An init
	// that runs out is retried inside the first invocation, under Timeout.
	InitTimeout time.Duration
	Env         map[string]string
	// ReservedConcurrency caps the invocations running at once
	// (ReservedConcurrentExecutions); more wait their turn in arrival order
	// instead of failing. 0 means no cap.
	ReservedConcurrency int
	// Logs receives what the function logs, one line at a time, each
	// prefixed with the invocation's request ID. Nil discards.
	Logs io.Writer
	// Clock times invocations and inits; nil is the wall clock. A fake one
	// lets a test expire a timeout without waiting for it.
	Clock clock.Clock
}

// ARN returns the function's ARN in Lambda's format.
func (c Config) ARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", orDefault(c.Region, "us-east-1"), orDefault(c.AccountID, "000000000000"), c.Name)
}

// LambdaEnv returns the function's environment as a Lambda function sees
// it: the template's Environment.Variables plus the variables Lambda itself
// sets (AWS_LAMBDA_FUNCTION_NAME, _VERSION, _MEMORY_SIZE, AWS_REGION, ...),
// which a function cannot override.
func (c Config) LambdaEnv() map[string]string {
	env := make(map[string]string, len(c.Env)+8)
	for k, v := range c.Env {
		env[k] = v
	}
	region := orDefault(c.Region, "us-east-1")
	env["AWS_LAMBDA_FUNCTION_NAME"] = c.Name
	env["AWS_LAMBDA_FUNCTION_VERSION"] = c.Version
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(c.MemoryMB)
	env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(int(c.Timeout.Seconds()))
	env["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + c.Name
	env["AWS_LAMBDA_LOG_STREAM_NAME"] = c.Version
	env["AWS_REGION"] = region
	env["AWS_DEFAULT_REGION"] = region
	return env
}

// Engine is the loader-specific half of a Function: it runs one invocation
// of already-loaded code. Function does everything loaders share (request
// IDs, the deadline, the Lambda context, queuing, error shapes). Loaders
// implement it: the Go engine here for plugins and in-process handlers,
// runtime/wasm for WASM modules. An engine with a JSON path only is made
// one by JSONEngine.
type Engine interface {
	// Call runs inv with its raw payload. ctx carries inv's deadline, the
	// Lambda context and the function's environment (sdk/host.WithEnv). An
	// error that is not an *InvokeError is reported as the function's
	// error; once ctx's deadline has passed any error becomes
	// Sandbox.Timedout.
	Call(ctx context.Context, inv *Invocation) ([]byte, error)
	// CallKinesis is Call for a decoded Kinesis batch (inv.Payload is
	// nil): the typed path, with Call's error rules.
	CallKinesis(ctx context.Context, inv *Invocation, e *events.KinesisEvent) (*KinesisResult, error)
}

// Invocation is what an Engine needs to know about one call.
type Invocation struct {
	RequestID   string
	FunctionARN string
	Deadline    time.Time
	Payload     []byte
	// Log receives the invocation's log output (stdout, stderr, log calls);
	// never nil.
	Log io.Writer
	// Prepared is what the engine's Prepare returned for this call (see
	// Preparer); nil for engines without it.
	Prepared any
}

// Preparer is implemented by an Engine whose calls may need a cold start
// (a new WASM instance). As Lambda's init phase is, Prepare runs before
// the invocation's timeout starts: a slow start never turns into a
// handler timeout. Call must then use (or dispose of) inv.Prepared.
//
// Prepare bounds the init by Config.InitPhaseTimeout and by ctx. When the
// init runs out of time it returns an error matching ErrInitTimeout, and
// the invocation goes ahead with inv.Prepared nil: Call then starts the
// instance again, inside the invocation's timeout (Lambda's retry of a
// timed-out init). ctx carries the invocation's log (sdk/host.Log).
type Preparer interface {
	Prepare(ctx context.Context) (any, error)
}

// Function is loaded code with its configuration.
type Function struct {
	cfg    Config
	env    map[string]string
	engine Engine
	slots  chan struct{} // nil: no concurrency cap

	invocations atomic.Int64
	timeouts    atomic.Int64
	unhealthy   atomic.Bool
}

// New wraps a Go handler of any signature lambda.Start accepts; it runs in
// the host's process (plugins, tests, in-process functions).
func New(cfg Config, handler any) (*Function, error) {
	if handler == nil {
		return nil, fmt.Errorf("function %s: nil handler", cfg.Name)
	}
	if reflect.TypeOf(handler).Kind() != reflect.Func {
		if _, ok := handler.(lambda.Handler); !ok {
			return nil, fmt.Errorf("function %s: handler is a %T, not a function", cfg.Name, handler)
		}
	}
	f := NewWithEngine(cfg, nil)
	g := &goEngine{handler: handler, f: f}
	if typed := kinesisHandler(handler); typed != nil {
		f.engine = &goKinesisEngine{goEngine: g, typed: typed}
	} else {
		f.engine = JSONEngine(g)
	}
	return f, nil
}

// NewWithEngine returns a Function that runs invocations on e.
func NewWithEngine(cfg Config, e Engine) *Function {
	if cfg.Version == "" {
		cfg.Version = "$LATEST"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.MemoryMB <= 0 {
		cfg.MemoryMB = 128
	}
	f := &Function{cfg: cfg, engine: e}
	f.env = cfg.LambdaEnv()
	if cfg.ReservedConcurrency > 0 {
		f.slots = make(chan struct{}, cfg.ReservedConcurrency)
	}
	return f
}

// Config returns the function's configuration.
func (f *Function) Config() Config { return f.cfg }

// Unhealthy reports whether an invocation was abandoned on timeout. A plugin
// shares the host's process, so a timed-out call cannot be stopped: it keeps
// running in the background and the function is marked unhealthy.
func (f *Function) Unhealthy() bool { return f.unhealthy.Load() }

// Stats are a function's counters since it was loaded.
type Stats struct {
	Invocations, Timeouts int64
}

// Stats returns the function's counters.
func (f *Function) Stats() Stats {
	return Stats{Invocations: f.invocations.Load(), Timeouts: f.timeouts.Load()}
}

// Invoke runs the function once with payload, under its timeout. When
// ReservedConcurrency invocations are already running it waits for one to
// finish (or for ctx to end); the timeout starts when it runs.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var out []byte
	err := f.run(ctx, payload, func(ctx context.Context, inv *Invocation) error {
		var err error
		out, err = f.engine.Call(ctx, inv)
		return err
	})
	return out, err
}

// InvokeKinesis runs the function once with a decoded batch, with Invoke's
// semantics (queuing, timeout, Lambda context, error shapes): a Go handler
// of the usual Kinesis signature is called directly, a WASM guest gets the
// binary batch layout, anything else goes through JSON.
func (f *Function) InvokeKinesis(ctx context.Context, e *events.KinesisEvent) (*KinesisResult, error) {
	var res *KinesisResult
	err := f.run(ctx, nil, func(ctx context.Context, inv *Invocation) error {
		var err error
		res, err = f.engine.CallKinesis(ctx, inv, e)
		return err
	})
	return res, err
}

// run is what every invocation shares: a concurrency slot, a request ID,
// the deadline, the Lambda context and environment, the log, and turning
// failures into Lambda's error shapes.
func (f *Function) run(ctx context.Context, payload []byte, call func(context.Context, *Invocation) error) error {
	requestID := newRequestID()
	if f.slots != nil {
		select {
		case f.slots <- struct{}{}:
			defer func() { <-f.slots }()
		case <-ctx.Done():
			return &InvokeError{Message: "cancelled while waiting for a concurrency slot: " + ctx.Err().Error(), Type: "Runtime.Cancelled", RequestID: requestID}
		}
	}
	f.invocations.Add(1)
	log := newLineWriter(f.cfg.Logs, requestID)
	defer log.Flush()
	var prepared any
	if p, ok := f.engine.(Preparer); ok {
		var err error
		prepared, err = p.Prepare(host.WithLog(ctx, log))
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return &InvokeError{Message: "cancelled during the function's init: " + ctx.Err().Error(), Type: "Runtime.Cancelled", RequestID: requestID}
		case errors.Is(err, ErrInitTimeout):
			// Lambda retries a timed-out init once, inside the invocation
			// and under its timeout: Call starts the instance again.
			prepared = nil
		default:
			return handlerError(err, requestID)
		}
	}
	clk := clock.Or(f.cfg.Clock)
	start := clk.Now()
	ctx, cancel := clock.WithTimeout(ctx, clk, f.cfg.Timeout)
	defer cancel()
	deadline, ok := ctx.Deadline()
	if !ok { // on a fake clock the context has no deadline of its own
		deadline = start.Add(f.cfg.Timeout)
	}
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       requestID,
		InvokedFunctionArn: f.cfg.ARN(),
	})
	ctx = host.WithEnv(ctx, f.env)
	ctx = host.WithLog(ctx, log)
	inv := &Invocation{RequestID: requestID, FunctionARN: f.cfg.ARN(), Deadline: deadline, Payload: payload, Log: log, Prepared: prepared}

	err := call(ctx, inv)
	if err == nil {
		return nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		f.timeouts.Add(1)
		msg := fmt.Sprintf("%s Task timed out after %.2f seconds", requestID, f.cfg.Timeout.Seconds())
		if errors.Is(err, ErrInitTimeout) {
			// What Lambda reports when the retried init times out too
			// (Sandbox.Timedout); its INIT_REPORT line says it was the
			// init, and so does the message here.
			WriteInitReport(log, clk.Since(start), "invoke", "timeout")
			msg += fmt.Sprintf(": the function's init (main) did not finish, neither in the %.2f s init phase nor when retried within this invocation", f.cfg.InitPhaseTimeout().Seconds())
		}
		return &InvokeError{Message: msg, Type: "Sandbox.Timedout", RequestID: requestID}
	}
	if ctx.Err() != nil {
		return &InvokeError{Message: ctx.Err().Error(), Type: "Runtime.Cancelled", RequestID: requestID}
	}
	return handlerError(err, requestID)
}

// goEngine runs a Go handler in the host's process.
type goEngine struct {
	handler any
	f       *Function

	// idle holds lambda.Handler instances not in use. aws-lambda-go's
	// Handler.Invoke returns a slice of a pooled buffer that the next
	// Invoke on the same Handler overwrites, so each concurrent invocation
	// takes its own instance and copies the response before returning it.
	// An instance abandoned by a timed-out call is never reused.
	idleMu sync.Mutex
	idle   []lambda.Handler
}

func (g *goEngine) take() lambda.Handler {
	g.idleMu.Lock()
	defer g.idleMu.Unlock()
	if n := len(g.idle); n > 0 {
		h := g.idle[n-1]
		g.idle = g.idle[:n-1]
		return h
	}
	if h, ok := g.handler.(lambda.Handler); ok {
		return h
	}
	return lambda.NewHandler(g.handler)
}

func (g *goEngine) release(h lambda.Handler) {
	g.idleMu.Lock()
	g.idle = append(g.idle, h)
	g.idleMu.Unlock()
}

// Call runs the handler through aws-lambda-go's JSON path.
func (g *goEngine) Call(ctx context.Context, inv *Invocation) ([]byte, error) {
	return async(g, ctx, inv, func() ([]byte, error) {
		h := g.take()
		o, err := h.Invoke(ctx, inv.Payload)
		out := bytes.Clone(o)
		g.release(h) // not reached after a panic: that instance is dropped
		return out, err
	})
}

// goKinesisEngine is the Go engine of a handler of the usual Kinesis
// signature: its typed path calls the handler directly.
type goKinesisEngine struct {
	*goEngine
	typed func(context.Context, events.KinesisEvent) (sdk.StreamResponse, error)
}

func (g *goKinesisEngine) CallKinesis(ctx context.Context, inv *Invocation, e *events.KinesisEvent) (*KinesisResult, error) {
	resp, err := async(g.goEngine, ctx, inv, func() (sdk.StreamResponse, error) { return g.typed(ctx, *e) })
	if err != nil {
		return nil, err
	}
	return &KinesisResult{Response: resp}, nil
}

// kinesisHandler returns h as a typed Kinesis handler when its signature is
// one of the usual ones (context optional; nothing, an error, a
// StreamResponse or a KinesisEventResponse returned, by value or pointer),
// nil otherwise. The no-output forms matter most: they are what most
// stream handlers are, and through the JSON path each batch would be
// encoded, then decoded again by reflection, for a handler that returns
// nothing.
func kinesisHandler(h any) func(context.Context, events.KinesisEvent) (sdk.StreamResponse, error) {
	switch h := h.(type) {
	case func(context.Context, events.KinesisEvent) (sdk.StreamResponse, error):
		return h
	case func(context.Context, events.KinesisEvent) (*sdk.StreamResponse, error):
		return func(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
			r, err := h(ctx, e)
			if r == nil {
				return sdk.StreamResponse{}, err
			}
			return *r, err
		}
	case func(context.Context, events.KinesisEvent) (events.KinesisEventResponse, error):
		return func(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
			r, err := h(ctx, e)
			return sdk.StreamResponse{BatchItemFailures: r.BatchItemFailures}, err
		}
	case func(context.Context, events.KinesisEvent) (*events.KinesisEventResponse, error):
		return func(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
			r, err := h(ctx, e)
			if r == nil {
				return sdk.StreamResponse{}, err
			}
			return sdk.StreamResponse{BatchItemFailures: r.BatchItemFailures}, err
		}
	case func(context.Context, events.KinesisEvent) error:
		return func(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
			return sdk.StreamResponse{}, h(ctx, e)
		}
	case func(events.KinesisEvent) error:
		return func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
			return sdk.StreamResponse{}, h(e)
		}
	case func(context.Context, events.KinesisEvent):
		return func(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
			h(ctx, e)
			return sdk.StreamResponse{}, nil
		}
	case func(events.KinesisEvent):
		return func(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
			h(e)
			return sdk.StreamResponse{}, nil
		}
	}
	return nil
}

// async runs call on its own goroutine and waits for it or for ctx. A Go
// call cannot be stopped: on timeout it is abandoned, keeps running, and
// the function is marked unhealthy; its result, if it ever comes, goes to a
// buffered channel nobody reads (never to memory the caller still uses). A
// panic becomes Runtime.Panic.
func async[T any](g *goEngine, ctx context.Context, inv *Invocation, call func() (T, error)) (T, error) {
	type result struct {
		v   T
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
					RequestID:  inv.RequestID,
				}}
			}
			done <- r
		}()
		r.v, r.err = call()
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			g.f.unhealthy.Store(true)
		}
		var zero T
		return zero, ctx.Err()
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

// Close releases what the function's engine holds (a WASM module's
// instances and compiled code). Plugins cannot be unloaded: for them it
// does nothing.
func (f *Function) Close(ctx context.Context) error {
	if c, ok := f.engine.(interface{ Close(context.Context) error }); ok {
		return c.Close(ctx)
	}
	return nil
}
