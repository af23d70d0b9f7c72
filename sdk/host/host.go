// Package host is the seam between a function's sdk.Start call and the
// Sluice process that loaded it as a Go plugin. Function authors never import
// it; the Sluice runtime does.
//
// A plugin's main() runs inside the host process. Before calling it, the
// host installs a registrar with Capture; sdk.Start finds the registrar and
// hands the handler over instead of starting the AWS Lambda runtime loop.
package host

import (
	"context"
	"errors"
	"io"
	"sync"
)

var (
	mu        sync.Mutex // serialises Capture: one plugin main() at a time
	registrar func(handler any)
)

// Registrar returns the active registrar, or nil outside a Capture (that is,
// when the function runs as a standalone Lambda bootstrap).
func Registrar() func(handler any) {
	return registrar
}

// ErrNoHandler is returned by Capture when the function's main() returned
// without calling sdk.Start.
var ErrNoHandler = errors.New("main() returned without calling sdk.Start")

// Capture runs a function's main() and returns the handler it passed to
// sdk.Start.
func Capture(runMain func()) (any, error) {
	mu.Lock()
	defer mu.Unlock()
	var got any
	registrar = func(h any) { got = h }
	defer func() { registrar = nil }()
	runMain()
	if got == nil {
		return nil, ErrNoHandler
	}
	return got, nil
}

type envKey struct{}

// WithEnv returns ctx carrying a function's environment variables, as the
// template declares them. Plugins share the host's process environment, so
// per-function values travel on the context, never through os.Setenv.
func WithEnv(ctx context.Context, env map[string]string) context.Context {
	return context.WithValue(ctx, envKey{}, env)
}

// Env returns the environment attached by WithEnv, or nil.
func Env(ctx context.Context) map[string]string {
	env, _ := ctx.Value(envKey{}).(map[string]string)
	return env
}

type logKey struct{}

// WithLog returns ctx carrying the writer for an invocation's log lines.
func WithLog(ctx context.Context, w io.Writer) context.Context {
	return context.WithValue(ctx, logKey{}, w)
}

// Log returns the writer attached by WithLog, or nil.
func Log(ctx context.Context) io.Writer {
	w, _ := ctx.Value(logKey{}).(io.Writer)
	return w
}
