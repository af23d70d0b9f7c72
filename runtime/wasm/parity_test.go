package wasm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/runtime/plugin"
)

// pluginHandler builds a function as a Go plugin and returns its handler.
func pluginHandler(t testing.TB, dir string) any {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&plugin.Builder{CacheDir: filepath.Join(cacheDir, "plugins")}).Build(context.Background(), filepath.Base(abs), abs)
	if err != nil {
		t.Fatalf("plugin build: %v", err)
	}
	h, err := plugin.Load(res.Path)
	if err != nil {
		t.Fatalf("plugin load: %v", err)
	}
	return h
}

// loaders returns the same handler source loaded every way: in-process
// through lambda.NewHandler (what a Lambda bootstrap runs), as a plugin
// and as a WASM module.
func loaders(t *testing.T, dir string, cfg runtime.Config) map[string]runtime.Invoker {
	h := pluginHandler(t, dir)
	plug, err := runtime.New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]runtime.Invoker{
		"lambda.NewHandler": runtime.JSONInvoker(lambdaInvoker{lambda.NewHandler(h)}.Invoke),
		"plugin":            plug,
		"wasm":              loadGuest(t, buildGuest(t, dir), cfg),
	}
}

type lambdaInvoker struct{ h lambda.Handler }

func (l lambdaInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := l.h.Invoke(ctx, payload)
	return append([]byte(nil), out...), err
}

// outcome is what a caller can observe of an invocation.
type outcome struct {
	body, errType, errMsg string
}

func invoke(inv runtime.Invoker, payload []byte) outcome {
	out, err := inv.Invoke(context.Background(), payload)
	if err == nil {
		return outcome{body: string(out)}
	}
	var ie *runtime.InvokeError
	if errors.As(err, &ie) {
		return outcome{errType: ie.Type, errMsg: ie.Message}
	}
	// lambda.NewHandler returns the handler's own error; name it as Lambda does.
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return outcome{errType: t.Name(), errMsg: err.Error()}
}

func TestSameSourceSameResponses(t *testing.T) {
	sample, err := os.ReadFile("../../samples/events/kinesis-clickstream.json")
	if err != nil {
		t.Fatal(err)
	}
	malformed, err := os.ReadFile("../../samples/events/kinesis-clickstream-malformed.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg := runtime.Config{Name: "Fn", Timeout: 30 * time.Second}
	tests := []struct {
		fn      string
		payload []byte
		want    func(t *testing.T, o outcome)
	}{
		{"../testdata/kfn", kinesisEvent("hello", "bad", "World 42"), wantBody(`"batchItemFailures":[{"itemIdentifier":"`, `"data":"SEVMTE8="`)},
		{"../testdata/kfn", kinesisEvent("fail"), wantErr("errorString", "asked to fail")},
		{"../testdata/kfn", []byte(`{"Records":[]}`), wantBody(`{"batchItemFailures":null}`)},
		{"../../functions/enrich", sample, wantBody(`"records":[{"data":"eyJ`)},
		{"../../functions/enrich", malformed, wantErr("wrapError", "record 2 of 3")},
		{"../../functions/scrub", sample, wantBody(`"records":[{"data":"eyJ`)},
		{"../../functions/scrub", malformed, wantErr("wrapError", "record 2 of 3")},
	}
	byDir := map[string]map[string]runtime.Invoker{}
	for _, tc := range tests {
		if byDir[tc.fn] == nil {
			byDir[tc.fn] = loaders(t, tc.fn, cfg)
		}
		t.Run(filepath.Base(tc.fn), func(t *testing.T) {
			results := map[string]outcome{}
			for name, inv := range byDir[tc.fn] {
				results[name] = invoke(inv, tc.payload)
				// The typed path (what a mapping can call) gives the same.
				if name != "lambda.NewHandler" { // the reference has no typed path of its own
					results[name+"/typed"] = invokeTyped(inv, tc.payload)
				}
			}
			ref := results["lambda.NewHandler"]
			tc.want(t, ref)
			for name, got := range results {
				if got.errType == "" && got.body != ref.body || got.errType != "" && (got.errType != ref.errType || got.errMsg != ref.errMsg) {
					t.Errorf("%s differs from lambda.NewHandler:\n got  %+v\n want %+v", name, got, ref)
				}
			}
		})
	}
}

func invokeTyped(ki runtime.Invoker, payload []byte) outcome {
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return outcome{errType: "test", errMsg: err.Error()}
	}
	resp, err := ki.InvokeKinesis(context.Background(), &ev)
	if err != nil {
		var ie *runtime.InvokeError
		if errors.As(err, &ie) {
			return outcome{errType: ie.Type, errMsg: ie.Message}
		}
		return outcome{errType: "untyped", errMsg: err.Error()}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(resp.Response)
	return outcome{body: strings.TrimSuffix(buf.String(), "\n")}
}

func wantBody(subs ...string) func(*testing.T, outcome) {
	return func(t *testing.T, o outcome) {
		t.Helper()
		if o.errType != "" {
			t.Fatalf("error %s: %s", o.errType, o.errMsg)
		}
		for _, s := range subs {
			if !strings.Contains(o.body, s) {
				t.Errorf("response %s does not contain %s", o.body, s)
			}
		}
	}
}

func wantErr(typ, msg string) func(*testing.T, outcome) {
	return func(t *testing.T, o outcome) {
		t.Helper()
		if o.errType != typ || !strings.Contains(o.errMsg, msg) {
			t.Errorf("got %+v, want %s containing %q", o, typ, msg)
		}
	}
}

// TestNonGoGuest runs the hand-written WAT module (testdata/watfn) on the
// events the Go guest answers identically, then through its faults.
func TestNonGoGuest(t *testing.T) {
	var logs syncBuffer
	fn := loadGuest(t, "../testdata/watfn/upper.wasm", runtime.Config{Name: "Upper", Timeout: 2 * time.Second, MemoryMB: 16, Logs: &logs})
	goGuest := loadGuest(t, buildGuest(t, "../testdata/kfn"), runtime.Config{Name: "Kfn", Timeout: 30 * time.Second})
	for _, payload := range [][]byte{kinesisEvent("hello", "World 42", ""), kinesisEvent("x")} {
		got, want := invoke(fn, payload), invoke(goGuest, payload)
		if got != want || got.errType != "" {
			t.Errorf("WAT guest: %+v\nGo guest: %+v", got, want)
		}
	}
	for _, tc := range []struct{ payload, wantType, wantMsg string }{
		{"trap", "Runtime.Trap", "unreachable"},
		{"spin", "Sandbox.Timedout", "Task timed out after 2.00 seconds"},
		{"naps", "Sandbox.Timedout", "Task timed out after 2.00 seconds"}, // asleep in WASI poll_oneoff for 60 s
		{"bomb", "Runtime.OutOfMemory", "memory limit of 16 MB"},
		{"fail", "errorString", "asked to fail"},
	} {
		t.Run(tc.payload, func(t *testing.T) {
			o := invoke(fn, kinesisEvent("ok", tc.payload))
			if o.errType != tc.wantType || !strings.Contains(o.errMsg, tc.wantMsg) {
				t.Errorf("got %+v; want %s containing %q", o, tc.wantType, tc.wantMsg)
			}
			if o := invoke(fn, kinesisEvent("again")); o.body == "" {
				t.Errorf("after %s: %+v", tc.payload, o)
			}
		})
	}
	if o := invoke(fn, []byte(`{"not":"kinesis"}`)); o.errType != "Runtime.Unsupported" {
		t.Errorf("a JSON event: %+v", o)
	}
	if o := invoke(fn, kinesisEvent("note")); o.errType != "" || !strings.Contains(logs.String(), "\tpk-0\n") {
		t.Errorf("log import: %+v, logs %q", o, logs.String())
	}
}
