//go:build wasip1

package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/sluice-dev/sluice/sdk/abi"
)

// Start, in a WASM build, keeps handler for the sluice_invoke export (see
// docs/wasm-abi.md) and returns. The host calls the sluice_main export,
// which runs main(), right after _initialize.
func Start(handler any) {
	jsonHandler = newJSONHandler(handler)
	fastHandler = kinesisFastPath(handler)
	tuneGC(os.Getenv)
}

var (
	jsonHandler func(context.Context, []byte) ([]byte, error)
	// fastHandler is set when the handler takes an events.KinesisEvent and
	// returns a StreamResponse (or events.KinesisEventResponse): then a
	// binary batch reaches it without any JSON or base64.
	fastHandler func(context.Context, events.KinesisEvent) (StreamResponse, error)

	// pinned keeps the buffers handed out by sluice_alloc reachable: the Go
	// garbage collector cannot see the host's reference to them.
	pinned = map[uint32][]byte{}
	// lastPtr and lastAlloc are the newest buffer in pinned.
	lastPtr   uint32
	lastAlloc []byte
	// resp is the last response; it stays valid until the next call.
	resp []byte
)

func kinesisFastPath(handler any) func(context.Context, events.KinesisEvent) (StreamResponse, error) {
	switch h := handler.(type) {
	case func(context.Context, events.KinesisEvent) (StreamResponse, error):
		return h
	case func(events.KinesisEvent) (StreamResponse, error):
		return func(_ context.Context, e events.KinesisEvent) (StreamResponse, error) { return h(e) }
	case func(context.Context, events.KinesisEvent) (events.KinesisEventResponse, error):
		return func(ctx context.Context, e events.KinesisEvent) (StreamResponse, error) {
			r, err := h(ctx, e)
			return StreamResponse{BatchItemFailures: r.BatchItemFailures}, err
		}
	case func(events.KinesisEvent) (events.KinesisEventResponse, error):
		return func(_ context.Context, e events.KinesisEvent) (StreamResponse, error) {
			r, err := h(e)
			return StreamResponse{BatchItemFailures: r.BatchItemFailures}, err
		}
	}
	return nil
}

//go:wasmexport sluice_abi_version
func abiVersion() uint32 { return abi.Version }

//go:wasmexport sluice_features
func features() uint32 {
	if fastHandler != nil {
		return abi.FeatureKinesisBatch
	}
	return 0
}

//go:wasmexport sluice_alloc
func alloc(size uint32) uint32 {
	buf := make([]byte, max(size, 1))
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	pinned[p] = buf
	lastPtr, lastAlloc = p, buf
	return p
}

//go:wasmexport sluice_free
func free(ptr uint32) {
	delete(pinned, ptr)
	if ptr == lastPtr {
		lastPtr, lastAlloc = 0, nil
	}
}

//go:wasmexport sluice_invoke
func invoke(ptr, size uint32) uint64 {
	// The host may reuse the request buffer for later invocations (until it
	// frees it), so nothing may keep pointing into it: handle copies what
	// outlives the call.
	req, ok := lastAlloc, ptr == lastPtr // the host reuses its buffer: skip the map
	if !ok {
		req, ok = pinned[ptr]
	}
	if !ok || int(size) > len(req) {
		resp = errorResponse(resp[:0], "Runtime.InvalidRequest", "request buffer was not allocated with sluice_alloc", nil)
	} else {
		resp = handle(req[:size], resp[:0])
	}
	return uint64(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(resp)))))<<32 | uint64(len(resp))
}

func handle(req, out []byte) (res []byte) {
	// Everything decoded from the request aliases it (record data, strings,
	// a JSON handler's values), and the host reuses its buffer for the next
	// request: one copy here keeps all of it valid for as long as the
	// handler keeps it.
	req = bytes.Clone(req)
	h, body, err := abi.DecodeHeader(req)
	if err != nil {
		return errorResponse(out, "Runtime.InvalidRequest", err.Error(), nil)
	}
	if jsonHandler == nil {
		return append(append(out, abi.TagNotFound), "main() did not call sdk.Start"...)
	}
	dc := &deadlineCtx{deadline: time.UnixMilli(h.DeadlineMs)}
	defer dc.stop()
	ctx := lambdacontext.NewContext(dc, &lambdacontext.LambdaContext{AwsRequestID: h.RequestID, InvokedFunctionArn: h.FunctionARN})
	defer func() {
		if p := recover(); p != nil {
			res = errorResponse(out[:0], "Runtime.Panic", fmt.Sprint(p), stackLines(debug.Stack()))
		}
	}()
	if h.Kind == abi.KindKinesis {
		ev, err := abi.DecodeKinesis(body)
		if err != nil {
			return errorResponse(out, "Runtime.InvalidRequest", err.Error(), nil)
		}
		if fastHandler == nil {
			// Any other handler signature takes the event as Lambda's JSON.
			if body, err = json.Marshal(ev); err != nil {
				return errorResponse(out, "Runtime.InvalidRequest", err.Error(), nil)
			}
		} else {
			r, err := fastHandler(ctx, ev)
			if err != nil {
				return errorResponse(out, errorType(err), err.Error(), nil)
			}
			recs := make([]abi.Record, len(r.Records))
			for i, o := range r.Records {
				recs[i] = abi.Record{Data: o.Data, PartitionKeys: o.PartitionKeys}
			}
			return abi.AppendStream(append(out, abi.TagStream), r.BatchItemFailures, recs)
		}
	}
	payload, err := jsonHandler(ctx, body)
	if err != nil {
		return errorResponse(out, errorType(err), err.Error(), nil)
	}
	return append(append(out, abi.TagJSON), payload...)
}

// deadlineCtx is the invocation's context: it has the deadline but arms no
// timer unless a handler asks for Done. context.WithDeadline's timer cost
// ~24 µs per invocation in a Go guest (most of a small batch's overhead),
// and a timer can only fire when the single-threaded guest yields anyway;
// Err compares the clock instead, which is what handlers that check
// ctx.Err() between records need. The host enforces the deadline itself.
type deadlineCtx struct {
	deadline time.Time

	mu     sync.Mutex
	timer  context.Context // armed by the first Done
	cancel context.CancelFunc
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Value(key any) any { return nil }

func (c *deadlineCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer == nil {
		c.timer, c.cancel = context.WithDeadline(context.Background(), c.deadline)
	}
	return c.timer.Done()
}

func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	timer := c.timer
	c.mu.Unlock()
	if timer != nil {
		if err := timer.Err(); err != nil {
			return err
		}
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// stop releases the timer, if one was armed.
func (c *deadlineCtx) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}

type errorDoc struct {
	Message    string   `json:"errorMessage"`
	Type       string   `json:"errorType"`
	StackTrace []string `json:"stackTrace,omitempty"`
}

func errorResponse(out []byte, typ, msg string, stack []string) []byte {
	b, _ := json.Marshal(errorDoc{Message: msg, Type: typ, StackTrace: stack})
	return append(append(out, abi.TagError), b...)
}

// errorType names an error as Lambda does: the Go type, pointers stripped.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func stackLines(stack []byte) []string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	if len(lines) > 40 {
		lines = lines[:40]
	}
	return lines
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorIface  = reflect.TypeFor[error]()
)

// newJSONHandler is aws-lambda-go's lambda.NewHandler for the WASM build: the
// same signature rules and JSON decode → call → encode path
// (docs/semantics.md, "Go handler signatures"), without importing package
// lambda, whose Runtime API client (net/http) would quadruple the module and
// its compile time.
func newJSONHandler(handler any) func(context.Context, []byte) ([]byte, error) {
	if h, ok := handler.(interface {
		Invoke(context.Context, []byte) ([]byte, error)
	}); ok {
		return h.Invoke
	}
	v := reflect.ValueOf(handler)
	t := v.Type()
	fail := func(msg string) func(context.Context, []byte) ([]byte, error) {
		err := fmt.Errorf("handler kind %s: %s", t.Kind(), msg)
		return func(context.Context, []byte) ([]byte, error) { return nil, err }
	}
	if t.Kind() != reflect.Func {
		return fail("handler kind " + t.Kind().String() + " is not func")
	}
	takesCtx, eventType := false, reflect.Type(nil)
	switch t.NumIn() {
	case 0:
	case 1:
		if t.In(0).Kind() == reflect.Interface && t.In(0).NumMethod() > 0 {
			if t.In(0) != contextType {
				return fail("handler takes an interface, but it is not context.Context")
			}
			takesCtx = true
		} else {
			eventType = t.In(0)
		}
	case 2:
		if t.In(0) != contextType {
			return fail("handler takes two arguments, but the first is not Context")
		}
		takesCtx, eventType = true, t.In(1)
	default:
		return fail("handlers may not take more than two arguments")
	}
	switch {
	case t.NumOut() > 2:
		return fail("handler may not return more than two values")
	case t.NumOut() > 0 && !t.Out(t.NumOut()-1).Implements(errorIface):
		return fail("the last return value must be an error")
	}
	return func(ctx context.Context, payload []byte) ([]byte, error) {
		args := make([]reflect.Value, 0, 2)
		if takesCtx {
			args = append(args, reflect.ValueOf(ctx))
		}
		if eventType != nil {
			ev := reflect.New(eventType)
			if err := json.NewDecoder(bytes.NewReader(payload)).Decode(ev.Interface()); err != nil {
				return nil, err
			}
			args = append(args, ev.Elem())
		}
		res := v.Call(args)
		if n := len(res); n > 0 {
			if err, _ := res[n-1].Interface().(error); err != nil {
				return nil, err
			}
		}
		if len(res) < 2 {
			return []byte("null"), nil
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res[0].Interface()); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
}
