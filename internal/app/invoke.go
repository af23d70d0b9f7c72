package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/template"
)

// This file is `sluice local invoke`: one function of the template built,
// loaded and invoked once with one event, as `sam local invoke` does.

// DefaultInitTimeout is Lambda's init phase limit, the default of
// LocalInvokeRequest.InitTimeout.
const DefaultInitTimeout = runtime.DefaultInitTimeout

// LocalInvokeRequest says what to invoke, and how.
type LocalInvokeRequest struct {
	// Config names the template, its parameter overrides and the cache.
	Config Config
	// Function is the logical ID (or name) of the function; "" when the
	// template has only one.
	Function string
	// Event is the event file, "-" for Stdin; "" sends {}.
	Event string
	Stdin io.Reader
	// Loader overrides Metadata.Sluice.Loader (one of Loaders()).
	Loader string
	// EnvVars is a SAM-style --env-vars file of environment overrides.
	EnvVars string
	// InitTimeout bounds the function's init (main() before sdk.Start):
	// a WASM guest's is stopped and retried inside the invocation, under
	// its Timeout, as on Lambda; a plugin's fails the load (its init
	// cannot be stopped, see runtime/plugin.LoadContext). 0: Lambda's.
	InitTimeout time.Duration
	// Progress receives build progress and the function's logs.
	Progress io.Writer
}

// LocalInvocation is what the function answered.
type LocalInvocation struct {
	// Function is the logical ID of the function invoked.
	Function string
	// Response is the function's response when it succeeded.
	Response []byte
	// Error is Lambda's error document when the function failed, and
	// ErrorSummary its one-line form ("Sandbox.Timedout: ...").
	Error        []byte
	ErrorSummary string
}

// Failed reports whether the function failed (Error is set).
func (l *LocalInvocation) Failed() bool { return l.Error != nil }

// InvokeLocal builds, loads and invokes one function. An error is a
// failure to get that far (a bad template, event or function); a function
// that ran and failed is a LocalInvocation with its Error.
func InvokeLocal(ctx context.Context, req LocalInvokeRequest) (*LocalInvocation, error) {
	plan, err := template.ParseFile(req.Config.Template, template.Options{ParameterOverrides: req.Config.ParameterOverrides})
	if err != nil {
		return nil, err
	}
	id := req.Function
	if id == "" {
		if len(plan.Functions) != 1 {
			return nil, fmt.Errorf("name the function to invoke: the template has %d", len(plan.Functions))
		}
		id = plan.Functions[0].LogicalID
	}
	fn, err := FindFunction(plan, id)
	if err != nil {
		return nil, err
	}
	if req.EnvVars != "" {
		if err := applyEnvVars(&fn, req.EnvVars); err != nil {
			return nil, err
		}
	}
	payload, err := readEvent(req.Event, req.Stdin)
	if err != nil {
		return nil, err
	}
	f, err := LoadFunctionWith(ctx, plan, fn, LoadOptions{CacheDir: req.Config.CacheDir, Loader: req.Loader, Progress: req.Progress, Logs: req.Progress, InitTimeout: req.InitTimeout})
	if err != nil {
		return nil, err
	}
	defer f.Close(context.WithoutCancel(ctx))
	out, err := f.Invoke(ctx, payload)
	if err != nil {
		var ie *runtime.InvokeError
		if errors.As(err, &ie) {
			return &LocalInvocation{Function: fn.LogicalID, Error: ie.JSON(), ErrorSummary: ie.Error()}, nil
		}
		return nil, err
	}
	return &LocalInvocation{Function: fn.LogicalID, Response: bytes.TrimSpace(out)}, nil
}

// readEvent reads the event: a file, stdin ("-"), or {} when path is "".
func readEvent(path string, stdin io.Reader) ([]byte, error) {
	var data []byte
	var err error
	switch path {
	case "":
		return []byte("{}"), nil
	case "-":
		data, err = io.ReadAll(stdin)
	default:
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading event: %w", err)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("event %s is not valid JSON", path)
	}
	return data, nil
}

// applyEnvVars applies a SAM-style --env-vars file: {"Fn": {"K": "v"}} for
// one function or {"Parameters": {"K": "v"}} for all.
func applyEnvVars(fn *template.Function, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--env-vars: %w", err)
	}
	var doc map[string]map[string]string
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("--env-vars %s: %w", path, err)
	}
	env := map[string]string{}
	for k, v := range fn.Environment {
		env[k] = v
	}
	for _, section := range []string{"Parameters", fn.LogicalID} {
		for k, v := range doc[section] {
			env[k] = v
		}
	}
	fn.Environment = env
	return nil
}
