package wasm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/wasm"
	"github.com/sluice-dev/sluice/runtime/wasm/internal/interrupt"
	"github.com/sluice-dev/sluice/sdk"
)

type kinesisHandler = func(context.Context, events.KinesisEvent) (sdk.StreamResponse, error)

// clickEvent is a batch of n realistic click events (~400 bytes each).
func clickEvent(n int) []byte {
	payloads := make([]string, n)
	for i := range payloads {
		payloads[i] = fmt.Sprintf(`{"event_id":"0b6f2c1e-8d4a-4f3b-9a61-%012d","user_id":"u-%06d","session_id":"s-5f2d9c7a1e3b4d60","page":"/products/%d","referrer":"https://www.google.com/","event_type":"page_view","timestamp":"2026-01-02T03:04:05.678Z","user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1","ip":"81.116.17.%d","country":"DE"}`, i, i, i%500, i%250)
	}
	return kinesisEvent(payloads...)
}

func decode(b testing.TB, payload []byte) events.KinesisEvent {
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		b.Fatal(err)
	}
	return ev
}

// BenchmarkOverhead is the per-batch cost of each way to call a handler
// that does nothing, for batches of 1, 100 and 1,000 records:
//
//   - direct: the Go function called with a decoded event (the floor);
//   - plugin-call: the same through the plugin's symbol (what a typed
//     trigger path would pay);
//   - plugin-invoke / wasm-invoke: runtime.Function.Invoke with the Lambda
//     JSON payload (what triggers call today: JSON decode dominates);
//   - wasm-kinesis: the typed binary path (Module.CallKinesis), one call
//     into a pooled instance of the Go guest, which decodes the batch into
//     an events.KinesisEvent; -soft-timeout without the interrupt checks
//     (Options.SoftTimeout);
//   - wat-noop-kinesis: the same call into a hand-written guest that
//     decodes nothing (testdata/watnoop): what the ABI itself costs —
//     encoding, the copy into linear memory, the call.
func BenchmarkOverhead(b *testing.B) {
	ctx := context.Background()
	h := pluginHandler(b, "../testdata/noop")
	typed := h.(kinesisHandler)
	plug, _ := runtime.New(runtime.Config{Name: "Noop", Timeout: time.Minute}, h)
	code, err := os.ReadFile(buildGuest(b, "../testdata/noop"))
	if err != nil {
		b.Fatal(err)
	}
	mod, err := wasm.NewModule(ctx, code, runtime.Config{Name: "Noop"}, options())
	if err != nil {
		b.Fatal(err)
	}
	wfn := runtime.NewWithEngine(runtime.Config{Name: "Noop", Timeout: time.Minute}, mod)
	soft := options()
	soft.SoftTimeout = true
	softMod, err := wasm.NewModule(ctx, code, runtime.Config{Name: "Noop"}, soft)
	if err != nil {
		b.Fatal(err)
	}
	noopCode, err := os.ReadFile("../testdata/watnoop/noop.wasm")
	if err != nil {
		b.Fatal(err)
	}
	watNoop, err := wasm.NewModule(ctx, noopCode, runtime.Config{Name: "WatNoop"}, options())
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 100, 1000} {
		payload := clickEvent(n)
		ev := decode(b, payload)
		b.Run(fmt.Sprintf("records=%d/direct", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := noop(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("records=%d/plugin-call", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := typed(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("records=%d/plugin-invoke", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := plug.Invoke(ctx, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("records=%d/wasm-invoke", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := wfn.Invoke(ctx, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		for name, m := range map[string]*wasm.Module{"wasm-kinesis": mod, "wasm-kinesis-soft-timeout": softMod, "wat-noop-kinesis": watNoop} {
			b.Run(fmt.Sprintf("records=%d/%s", n, name), func(b *testing.B) {
				inv := &runtime.Invocation{RequestID: "r", FunctionARN: "arn", Deadline: time.Now().Add(time.Hour), Log: discard{}}
				for b.Loop() {
					if _, err := m.CallKinesis(ctx, inv, &ev); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

//go:noinline
func noop(_ context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
	return sdk.StreamResponse{}, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkTransform is the throughput of realistic transforms over a
// 100-record batch of click events, reported as records/s: enrich
// (fastjson validation, fields appended to the original bytes) and scrub (a
// hand-written scanner), neither using reflection, as plugin
// and as WASM (with hard timeouts, and with Options.SoftTimeout), and the
// hand-written WAT guest (upper-cases each record).
func BenchmarkTransform(b *testing.B) {
	ctx := context.Background()
	const n = 100
	ev := decode(b, clickEvent(n))
	inv := func() *runtime.Invocation {
		return &runtime.Invocation{RequestID: "r", FunctionARN: "arn", Deadline: time.Now().Add(time.Hour), Log: discard{}}
	}
	run := func(b *testing.B, call func() error) {
		for b.Loop() {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	}
	for _, fn := range []string{"enrich", "scrub"} {
		dir := filepath.Join("..", "..", "functions", fn)
		typed := pluginHandler(b, dir).(kinesisHandler)
		code, err := os.ReadFile(buildGuest(b, dir))
		if err != nil {
			b.Fatal(err)
		}
		mod, err := wasm.NewModule(ctx, code, runtime.Config{Name: fn}, options())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fn+"/plugin", func(b *testing.B) {
			run(b, func() error { _, err := typed(ctx, ev); return err })
		})
		b.Run(fn+"/wasm", func(b *testing.B) {
			run(b, func() error { _, err := mod.CallKinesis(ctx, inv(), &ev); return err })
		})
		soft := options()
		soft.SoftTimeout = true
		softMod, err := wasm.NewModule(ctx, code, runtime.Config{Name: fn}, soft)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fn+"/wasm-soft-timeout", func(b *testing.B) {
			run(b, func() error { _, err := softMod.CallKinesis(ctx, inv(), &ev); return err })
		})
	}
	code, err := os.ReadFile("../testdata/watfn/upper.wasm")
	if err != nil {
		b.Fatal(err)
	}
	mod, err := wasm.NewModule(ctx, code, runtime.Config{Name: "upper"}, options())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("upper/wat-wasm", func(b *testing.B) {
		run(b, func() error { _, err := mod.CallKinesis(ctx, inv(), &ev); return err })
	})
}

// BenchmarkColdStart is load → first response for the enrich function as
// WASM, with the compiled code in the on-disk cache and without any cache.
func BenchmarkColdStart(b *testing.B) {
	ctx := context.Background()
	path := buildGuest(b, "../../functions/enrich")
	payload := clickEvent(1)
	for _, tc := range []struct {
		name string
		dir  string
	}{{"compile-cache", filepath.Join(cacheDir, "compiled")}, {"no-cache", "off"}} {
		b.Run(tc.name, func(b *testing.B) {
			opts := options()
			opts.CompileCacheDir = tc.dir
			if _, err := wasm.Load(ctx, path, runtime.Config{Name: "warm"}, opts); err != nil { // fill the cache
				b.Fatal(err)
			}
			for b.Loop() {
				fn, err := wasm.Load(ctx, path, runtime.Config{Name: "Enrich"}, opts)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := fn.Invoke(ctx, payload); err != nil {
					b.Fatal(err)
				}
				fn.Close(ctx)
			}
		})
	}
}

// BenchmarkInstrument is the load-time cost of the interrupt rewrite
// (internal/interrupt) on the enrich function's Go guest (~5.8 MB).
func BenchmarkInstrument(b *testing.B) {
	code, err := os.ReadFile(buildGuest(b, "../../functions/enrich"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(code)))
	for b.Loop() {
		if _, _, err := interrupt.Instrument(code); err != nil {
			b.Fatal(err)
		}
	}
}
