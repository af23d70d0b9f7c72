package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/template"
	kinesistrigger "github.com/sluice-dev/sluice/triggers/kinesis"
)

// cmdRedrive is `sluice redrive FUNCTION [--since T]`: it reads the failure
// records the function's mappings wrote to their local on-failure buckets
// (<state-dir>/buckets/<bucket>/aws/lambda/<mapping UUID>/...), invokes the
// function as it is built now with each record's payload, and prints one
// line per replayed record. It exits non-zero when any record fails again.
// The function's output is not handed to its delivery stream: a running
// `sluice up` owns that; redrive reports, it does not deliver.
func cmdRedrive(args []string, stdout, stderr io.Writer) error {
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		return err
	}
	fs := newFlagSet("redrive", stderr, &cfg)
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "the state directory of `sluice up`")
	sinceFlag := fs.String("since", "", "only failure records written at or after this time: RFC 3339 (2026-11-26T10:00:00Z) or a duration back from now (1h)")
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
		return errors.New("usage: sluice redrive FUNCTION [--since T]")
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return err
	}
	plan, err := template.ParseFile(cfg.Template, template.Options{ParameterOverrides: cfg.ParameterOverrides})
	if err != nil {
		return err
	}
	fn, err := app.FindFunction(plan, name)
	if err != nil {
		return err
	}
	var failures []kinesistrigger.StoredFailure
	rbif := map[string]bool{} // failure key → its mapping reports batch item failures
	for _, ev := range fn.Events {
		if ev.OnFailureBucket == "" {
			continue
		}
		dir := filepath.Join(cfg.StateDir, "buckets", ev.OnFailureBucket)
		got, err := kinesistrigger.ReadFailures(dir, app.MappingID(fn, ev), since)
		if err != nil {
			return fmt.Errorf("reading failure records of %s: %w", ev.Name, err)
		}
		for _, f := range got {
			f.Key = ev.OnFailureBucket + "/" + f.Key
			rbif[f.Key] = slices.Contains(ev.FunctionResponseTypes, "ReportBatchItemFailures")
			failures = append(failures, f)
		}
	}
	if len(failures) == 0 {
		fmt.Fprintf(stdout, "redrive %s: no failure records\n", fn.LogicalID)
		return nil
	}
	ctx := context.Background()
	f, err := app.LoadFunction(ctx, plan, fn, cfg.CacheDir, stderr)
	if err != nil {
		return err
	}
	ok, failed := 0, 0
	for _, sf := range failures {
		results, _, err := kinesistrigger.Redrive(ctx, f, sf.Record, rbif[sf.Key])
		if err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", sf.Key, err)
			failed++
			continue
		}
		for _, r := range results {
			if r.OK {
				ok++
				fmt.Fprintf(stdout, "ok      %s %s %s (from %s)\n", r.ShardID, r.SequenceNumber, r.PartitionKey, sf.Key)
			} else {
				failed++
				fmt.Fprintf(stdout, "FAILED  %s %s %s (from %s): %s\n", r.ShardID, r.SequenceNumber, r.PartitionKey, sf.Key, r.Error)
			}
		}
	}
	fmt.Fprintf(stdout, "redrive %s: %d records replayed from %d failure records: %d ok, %d failed\n", fn.LogicalID, ok+failed, len(failures), ok, failed)
	if failed > 0 {
		return fmt.Errorf("%d records failed again", failed)
	}
	return nil
}

// parseSince accepts RFC 3339 or a duration back from now; "" is the epoch.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want RFC 3339 or a duration such as 1h", s)
}
