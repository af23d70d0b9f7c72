package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluice-dev/sluice/internal/app"
)

const redriveUsage = `usage: sluice redrive FUNCTION [--since T] [--again] [-t template.yaml] [--state-dir .sluice] [--s3-endpoint URL]

Replays the records the function's event-source mappings set aside in their
on-failure bucket (aws/lambda/<mapping UUID>/...) through the current version
of the function, and delivers its output to the function's delivery stream,
exactly once per failure record: a redrive that is interrupted (Ctrl-C, a
crash) and run again does not deliver anything twice. Each redriven failure
record gets a marker (sluice-redriven/<key> in the same bucket); a later
redrive skips it unless --again.

A failure record the function fails on again is not delivered (not even in
part) and not marked: fix the function and redrive again. The exit status is
1 when any record failed again.

Where it runs: while 'sluice up' runs on the state dir, through its control
API (token in <state-dir>/control-token), with the version of the function
that runs (deploy a fix first: 'sluice deploy'); otherwise directly on the
state dir, building the function from the template and flushing the
delivery stream when done. Progress goes to stderr, failed records and a
summary line to stdout.

flags:
`

// cmdRedrive is `sluice redrive FUNCTION`.
func cmdRedrive(args []string, stdout, stderr io.Writer) error {
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		return err
	}
	fs := newFlagSet("redrive", stderr, &cfg)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), redriveUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "the state directory of `sluice up`")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", cfg.S3Endpoint, "the buckets are in this S3-compatible store (\"aws\" for Amazon S3), as for `sluice up --s3-endpoint` (ignored while up runs: it knows)")
	controlAddr := fs.String("control-addr", "", "control address of a running sluice up (default: from <state-dir>/endpoints.json)")
	sinceFlag := fs.String("since", "", "only failure records written at or after this time: RFC 3339 (2026-11-26T10:00:00Z) or a duration back from now (1h)")
	again := fs.Bool("again", false, "replay and deliver failure records an earlier redrive already delivered, once more")
	// Allow FUNCTION before the flags, as the usage line shows it.
	var name string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		fs.Usage()
		return errors.New("redrive: no function given")
	}
	cfg.Stdout, cfg.Stderr = stdout, stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ra := app.RedriveArgs{Function: name, Since: *sinceFlag, Again: *again, ControlAddr: *controlAddr}
	return app.Redrive(ctx, cfg, ra, redrivePrinter(stdout, stderr))
}

// redrivePrinter writes progress to stderr, failed records and the
// summary to stdout.
func redrivePrinter(stdout, stderr io.Writer) func(app.RedriveLine) {
	return func(l app.RedriveLine) {
		switch {
		case l.Progress != nil:
			fmt.Fprintln(stderr, l.Progress.String())
		case l.Failed != nil:
			f := l.Failed
			if f.SequenceNumber == "" {
				fmt.Fprintf(stdout, "FAILED  %s: %s\n", f.Key, f.Error)
			} else {
				fmt.Fprintf(stdout, "FAILED  %s %s %s (from %s): %s\n", f.ShardID, f.SequenceNumber, f.PartitionKey, f.Key, f.Error)
			}
		case l.Summary != nil:
			fmt.Fprintln(stdout, l.Summary.SummaryLine())
		}
	}
}
