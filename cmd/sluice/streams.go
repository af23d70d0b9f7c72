package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/sluice-dev/sluice/internal/app"
)

const streamsUsage = `usage:
  sluice streams plan --write-mb-per-sec X --records-per-sec Y [--consumers N] [--enhanced-fan-out]
  sluice streams hot STREAM [--state-dir .sluice] [--control-addr 127.0.0.1:4570]`

// cmdStreams is `sluice streams plan|hot`.
func cmdStreams(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(streamsUsage)
	}
	switch args[0] {
	case "plan":
		return cmdStreamsPlan(args[1:], stdout, stderr)
	case "hot":
		return cmdStreamsHot(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, streamsUsage)
		return nil
	}
	return fmt.Errorf("streams: unknown subcommand %q\n%s", args[0], streamsUsage)
}

// cmdStreamsPlan prints the shards a load needs and which limit binds.
func cmdStreamsPlan(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sluice streams plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var l app.CapacityLoad
	fs.Float64Var(&l.WriteMBPerSec, "write-mb-per-sec", 0, "expected write throughput, MiB/s (data + partition keys)")
	fs.Float64Var(&l.RecordsPerSec, "records-per-sec", 0, "expected records written per second")
	fs.IntVar(&l.Consumers, "consumers", 1, "applications reading every record")
	fs.BoolVar(&l.EnhancedFanOut, "enhanced-fan-out", false, "consumers use enhanced fan-out (SubscribeToShard): 2 MiB/s each per shard")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("streams plan: unexpected argument %q", fs.Arg(0))
	}
	r, err := app.PlanCapacity(l)
	if err != nil {
		return err
	}
	reads := "polling (GetRecords, shared)"
	if l.EnhancedFanOut {
		reads = "enhanced fan-out (dedicated)"
	}
	fmt.Fprintf(stdout, "load: %g MiB/s, %g records/s, %d consumer(s), %s\n", l.WriteMBPerSec, l.RecordsPerSec, l.Consumers, reads)
	fmt.Fprintf(stdout, "shards needed: %d, bound by %s\n\n", r.Shards, r.Binding)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LIMIT\tSHARDS")
	for _, n := range r.Needs {
		fmt.Fprintf(tw, "%s\t%d\n", n.Limit, n.Shards)
	}
	tw.Flush()
	for _, w := range r.Warnings {
		fmt.Fprintf(stdout, "\nwarning: %s\n", w)
	}
	fmt.Fprintln(stdout, "\nOne partition key always lands in one shard: no shard count lifts a single key above 1 MiB/s or 1,000 records/s.")
	return nil
}

// cmdStreamsHot asks a running instance for a stream's hot shards. Like
// the other commands that talk to `sluice up`, it finds the instance
// through <state-dir>/endpoints.json unless --control-addr names it.
func cmdStreamsHot(args []string, stdout, stderr io.Writer) error {
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("sluice streams hot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "state directory of the running sluice")
	controlAddr := fs.String("control-addr", "", "control address (default: from <state-dir>/endpoints.json)")
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		return errors.New(streamsUsage)
	}
	c, err := app.NewControlClient(cfg.StateDir, *controlAddr)
	if err != nil {
		return fmt.Errorf("streams hot: %w", err)
	}
	rep, err := c.HotShards(name)
	if err != nil {
		return fmt.Errorf("streams hot: %w", err)
	}
	printHot(stdout, rep)
	return nil
}

func printHot(w io.Writer, rep app.HotReport) {
	limits := "limits enforced"
	if !rep.Limits {
		limits = "limits off (--limits=off): utilisation is what AWS would see"
	}
	fmt.Fprintf(w, "stream %s (%s), last %d s, %s\n\n", rep.Stream, rep.Mode, rep.WindowSeconds, limits)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tPEAK UTIL\tKiB/s\tRECORDS/s\tTHROTTLED\tTOP KEYS")
	for _, s := range rep.Shards {
		var keys []string
		for _, k := range s.TopKeys {
			keys = append(keys, fmt.Sprintf("%s %.0f%%", k.Key, 100*k.Share))
		}
		fmt.Fprintf(tw, "%s\t%.0f%%\t%.1f\t%.0f\t%d\t%s\n", s.ShardID, 100*s.Utilisation, s.WriteBytesPerSec/1024, s.WriteRecordsPerSec, s.Throttled, strings.Join(keys, ", "))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, a := range rep.Advice {
		fmt.Fprintln(w, a)
	}
}
