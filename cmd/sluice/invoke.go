package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/template"
)

// cmdLocalInvoke is `sluice local invoke FN [-e FILE|-] [--loader plugin|wasm]`: exactly one JSON
// document on stdout (the response, or Lambda's error document), everything
// else on stderr, exit 1 on a function error as `sam local invoke` does.
// A function whose init never finishes fails as on Lambda, within
// --init-timeout + its Timeout: Sandbox.Timedout for a WASM guest (the
// init is stopped, then retried in the invocation), a load error for a
// plugin (whose init cannot be stopped; runtime/plugin.LoadContext).
func cmdLocalInvoke(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, _ := app.ConfigFromEnv()
	fs := newFlagSet("local invoke", stderr, &cfg)
	event := fs.String("e", "", "event file (- for stdin); default {}")
	fs.StringVar(event, "event", "", "event file (- for stdin); default {}")
	loader := fs.String("loader", "", "run the function as a Go plugin or a WASM module (plugin|wasm), overriding Metadata.Sluice.Loader")
	envVars := fs.String("env-vars", "", "JSON file of environment overrides: {\"FunctionLogicalId\": {\"KEY\": \"value\"}}")
	initTimeout := fs.Duration("init-timeout", runtime.DefaultInitTimeout, "how long the function's init (main() before sdk.Start) may run before it is stopped and retried inside the invocation, under its Timeout (Lambda: 10s)")
	// Accept the function name before or after the flags, as SAM does.
	var fnID string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		fnID, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fnID == "" && fs.NArg() > 0 {
		fnID = fs.Arg(0)
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "sluice: "+format+"\n", a...)
		return 1
	}
	plan, err := template.ParseFile(cfg.Template, template.Options{ParameterOverrides: cfg.ParameterOverrides})
	if err != nil {
		return fail("%v", err)
	}
	if fnID == "" {
		if len(plan.Functions) != 1 {
			return fail("name the function to invoke: the template has %d", len(plan.Functions))
		}
		fnID = plan.Functions[0].LogicalID
	}
	fnTmpl, err := app.FindFunction(plan, fnID)
	if err != nil {
		return fail("%v", err)
	}
	if *envVars != "" {
		if err := applyEnvVars(&fnTmpl, *envVars); err != nil {
			return fail("%v", err)
		}
	}
	payload, err := readEvent(*event, stdin)
	if err != nil {
		return fail("%v", err)
	}
	if *initTimeout <= 0 {
		return fail("--init-timeout %s: want a positive duration", *initTimeout)
	}
	// This process loads one function: its init deadline is the process's.
	runtime.SetDefaultInitTimeout(*initTimeout)
	ctx := context.Background()
	switch *loader {
	case "", "plugin", "wasm":
	default:
		return fail("--loader %q: want plugin or wasm", *loader)
	}
	fn, err := app.LoadFunctionWith(ctx, plan, fnTmpl, app.LoadOptions{CacheDir: cfg.CacheDir, Loader: *loader, Progress: stderr, Logs: stderr})
	if err != nil {
		return fail("%v", err)
	}
	out, err := fn.Invoke(ctx, payload)
	if err != nil {
		var ie *runtime.InvokeError
		if errors.As(err, &ie) {
			stdout.Write(append(ie.JSON(), '\n'))
			fmt.Fprintf(stderr, "sluice: %s failed: %s\n", fnTmpl.LogicalID, ie.Error())
			return 1
		}
		return fail("%v", err)
	}
	stdout.Write(append(bytes.TrimSpace(out), '\n'))
	return 0
}

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
