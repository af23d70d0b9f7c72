package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
)

// RedriveArgs are the arguments of `sluice redrive`, as given.
type RedriveArgs struct {
	Function string
	// Since is --since: RFC 3339, or a duration back from now.
	Since string
	Again bool
	// ControlAddr names the running `sluice up` to redrive through; empty,
	// the redrive runs on the state dir unless an up holds it.
	ControlAddr string
}

// Redrive is `sluice redrive`: directly on the state dir when no `sluice
// up` runs there (RedriveDirect), else through the running instance's
// control API, since it owns the delivery stream's write-ahead log. Progress,
// records that failed again and the summary go to emit, from either place.
func Redrive(ctx context.Context, cfg Config, args RedriveArgs, emit func(RedriveLine)) error {
	cfg.fillDefaults()
	since, err := parseSince(args.Since, cfg.Clock.Now())
	if err != nil {
		return err
	}
	tmpl, err := filepath.Abs(cfg.Template)
	if err != nil {
		return err
	}
	req := RedriveRequest{Template: tmpl, ParameterOverrides: cfg.ParameterOverrides, Function: args.Function, Since: since, Again: args.Again}
	if args.ControlAddr == "" {
		err = RedriveDirect(ctx, cfg, req, RedriveOptions{Emit: emit})
		if !errors.Is(err, ErrUpRunning) {
			return err
		}
	}
	c, err := NewControlClient(cfg.StateDir, args.ControlAddr)
	if err != nil && args.ControlAddr == "" {
		return fmt.Errorf("redrive: the state dir is locked but: %w", err)
	}
	if err != nil {
		return fmt.Errorf("redrive: %w", err)
	}
	return c.Redrive(ctx, req, emit)
}
