// Command quickstart is `make run`: it starts `sluice up` on the sample
// template, feeds it generated clicks, waits until every click went through
// Enrich, stops sluice cleanly so the delivery stream flushes, and prints
// where the output landed and how many records it holds.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "quickstart: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	sluice := flag.String("sluice", "bin/sluice", "the sluice binary")
	gen := flag.String("generator", "bin/clickstream", "the click generator binary")
	stateDir := flag.String("state-dir", ".sluice", "sluice's state directory")
	count := flag.Int("count", 10000, "clicks to send")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	fmt.Println("==> starting sluice up (the first start builds the functions; later starts reuse them)")
	s, err := harness.Start(ctx, *sluice, os.Stderr, "--state-dir", *stateDir, "--max-buffer-interval", "5s", "--log-level", "warn",
		// Anomaly's checkpoint moves when its tumbling window closes; a
		// short window lets the quick start finish quickly.
		"--parameter-overrides", "AnomalyWindowSeconds=5")
	if err != nil {
		return err
	}
	defer s.Kill()
	fmt.Printf("==> sluice is ready: Kinesis API at %s, metrics at %s/metrics\n", s.Endpoints.Kinesis, s.Endpoints.Control)

	fmt.Printf("==> sending %d clicks to stream clickstream\n", *count)
	cmd := exec.CommandContext(ctx, *gen, "-endpoint", s.Endpoints.Kinesis, "-stream", "clickstream", "-count", fmt.Sprint(*count))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("generator: %w", err)
	}

	fmt.Println("==> waiting for Enrich to handle every click")
	last, err := harness.LastSequenceNumbers(ctx, s.Client(), "clickstream")
	if err != nil {
		return err
	}
	if err := harness.WaitCheckpointed(ctx, *stateDir, last); err != nil {
		return err
	}
	fmt.Println("==> stopping sluice (SIGTERM: in-flight batches drain, buffers flush)")
	if err := s.Stop(15 * time.Second); err != nil {
		return err
	}

	bucket := filepath.Join(*stateDir, "buckets", "clickstream-archive")
	objs, err := harness.ReadBucket(bucket)
	if err != nil {
		return err
	}
	perPrefix := map[string][2]int{}
	total := 0
	for _, o := range objs {
		prefix := o.Key[:strings.LastIndex(o.Key, "/")+1]
		c := perPrefix[prefix]
		perPrefix[prefix] = [2]int{c[0] + 1, c[1] + len(o.Records)}
		total += len(o.Records)
	}
	prefixes := make([]string, 0, len(perPrefix))
	for p := range perPrefix {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	abs, _ := filepath.Abs(bucket)
	fmt.Printf("\nOutput: %s (bucket clickstream-archive, Parquet, snappy)\n", abs)
	for _, p := range prefixes {
		fmt.Printf("  %-60s %3d objects %7d records\n", p, perPrefix[p][0], perPrefix[p][1])
	}
	fmt.Printf("  %d records in %d objects (this run sent %d; the state dir keeps earlier runs' output)\n", total, len(objs), *count)
	fmt.Printf("\nOne of them: %s/%s\n", abs, objs[0].Key)
	if alerts, err := harness.ReadBucket(filepath.Join(*stateDir, "buckets", "clickstream-alerts")); err == nil {
		n := 0
		for _, o := range alerts {
			n += len(o.Records)
		}
		fmt.Printf("Anomaly alerts (bucket clickstream-alerts): %d\n", n)
	}
	return nil
}
