package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"time"

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
	path := app.LogPath(cfg.StateDir, fn)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return tailFile(ctx, path, stdout, *follow)
}

// tailFile copies path to out and, with follow, keeps copying what is
// appended until ctx ends. It polls: portable, and log files are local.
func tailFile(ctx context.Context, path string, out io.Writer, follow bool) error {
	var off int64
	for {
		f, err := os.Open(path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && follow:
		case err != nil:
			return fmt.Errorf("no logs for this function yet (%w)", err)
		default:
			if st, err := f.Stat(); err == nil && st.Size() < off {
				off = 0 // truncated or replaced
			}
			n, _ := io.Copy(out, io.NewSectionReader(f, off, 1<<62))
			off += n
			f.Close()
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}
