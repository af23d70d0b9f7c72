package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"

	"github.com/sluice-dev/sluice/internal/app"
)

// cmdLogs is `sluice logs FUNCTION [--follow]`: the function's captured
// output (stdout, stderr and log calls, one line each, prefixed with the
// request ID) from the state dir of `sluice up`.
func cmdLogs(args []string, stdout, stderr io.Writer) error {
	cfg, _ := app.ConfigFromEnv()
	fs := newFlagSet("logs", stderr, &cfg)
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "state directory of sluice up")
	follow := fs.Bool("follow", false, "keep printing new lines (like tail -f)")
	fs.BoolVar(follow, "f", false, "shorthand for --follow")
	var fn string
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		fn, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fn == "" {
		fn = fs.Arg(0)
	}
	if fn == "" {
		return errors.New("usage: sluice logs FUNCTION [--follow]")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return app.PrintLogs(ctx, cfg, fn, stdout, *follow)
}
