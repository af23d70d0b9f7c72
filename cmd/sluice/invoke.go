package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/internal/app"
)

// cmdLocalInvoke is `sluice local invoke FN [-e FILE|-] [--loader NAME]`: exactly one JSON
// document on stdout (the response, or Lambda's error document), everything
// else on stderr, exit 1 on a function error as `sam local invoke` does.
// A function whose init never finishes fails as on Lambda, within
// --init-timeout + its Timeout (app.InvokeLocal).
func cmdLocalInvoke(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, _ := app.ConfigFromEnv()
	fs := newFlagSet("local invoke", stderr, &cfg)
	event := fs.String("e", "", "event file (- for stdin); default {}")
	fs.StringVar(event, "event", "", "event file (- for stdin); default {}")
	loaders := app.Loaders()
	loader := fs.String("loader", "", "run the function with this loader ("+strings.Join(loaders, "|")+"), overriding Metadata.Sluice.Loader")
	envVars := fs.String("env-vars", "", "JSON file of environment overrides: {\"FunctionLogicalId\": {\"KEY\": \"value\"}}")
	initTimeout := fs.Duration("init-timeout", app.DefaultInitTimeout, "how long the function's init (main() before sdk.Start) may run before it is stopped and retried inside the invocation, under its Timeout (Lambda: 10s)")
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
	if *initTimeout <= 0 {
		return fail("--init-timeout %s: want a positive duration", *initTimeout)
	}
	if *loader != "" && !slices.Contains(loaders, *loader) {
		return fail("--loader %q: want %s", *loader, strings.Join(loaders, " or "))
	}
	res, err := app.InvokeLocal(context.Background(), app.LocalInvokeRequest{
		Config: cfg, Function: fnID, Event: *event, Stdin: stdin, Loader: *loader,
		EnvVars: *envVars, InitTimeout: *initTimeout, Progress: stderr,
	})
	if err != nil {
		return fail("%v", err)
	}
	if res.Failed() {
		stdout.Write(append(res.Error, '\n'))
		return fail("%s failed: %s", res.Function, res.ErrorSummary)
	}
	stdout.Write(append(res.Response, '\n'))
	return 0
}
