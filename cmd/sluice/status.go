package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluice-dev/sluice/internal/app"
)

// printStatus renders `sluice status` as tables.
func printStatus(out io.Writer, st app.Status) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "Generation %d\n\nSTREAM\tSTATUS\tMODE\tOPEN SHARDS\tRETENTION\n", st.Generation)
	for _, s := range st.Streams {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%dh\n", s.Name, s.Status, s.Mode, s.OpenShards, s.RetentionHours)
	}
	fmt.Fprintf(w, "\nMAPPING\tFUNCTION\tSTREAM\tRECORDS\tINVOCATIONS\tERRORS\tMAX ITERATOR AGE\n")
	for _, m := range st.Mappings {
		maxAge := 0.0
		for _, a := range m.IteratorAgeMs {
			maxAge = max(maxAge, a)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%s\n", m.ID[:8], m.Function, m.Stream, m.Records, m.Invocations, m.Errors, time.Duration(maxAge)*time.Millisecond)
	}
	fmt.Fprintf(w, "\nDELIVERY STREAM\tBUCKET\tBUFFERED\tPENDING OBJECTS\tFAILING\tREFUSED\tOBJECTS BY FLUSH REASON\tSMALL OBJECTS\n")
	var problems []string
	for _, d := range st.DeliveryStreams {
		var reasons []string
		for r, n := range d.Objects {
			if n > 0 {
				reasons = append(reasons, fmt.Sprintf("%s=%.0f", r, n))
			}
		}
		sort.Strings(reasons)
		pending := fmt.Sprint(d.PendingObjects)
		if d.PendingObjects > 0 {
			pending += fmt.Sprintf(" (oldest %s)", (time.Duration(d.OldestPendingMs) * time.Millisecond).Round(time.Second))
		}
		fmt.Fprintf(w, "%s\t%s\t%.0f records / %.0f B\t%s\t%d\t%d\t%s\t%.0f\n", d.Name, d.Bucket, d.BufferedRecords, d.BufferedBytes,
			pending, d.FailingObjects, d.RefusedObjects, strings.Join(reasons, " "), d.SmallObjects)
		if d.FailingObjects > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d object(s) failing, retried; last error (%s): %s", d.Name, d.FailingObjects, d.LastErrorKey, d.LastError))
		}
		if d.RefusedObjects > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d object(s) refused by the store, records sent to the error output (delivery-failed); last: %s", d.Name, d.RefusedObjects, d.LastRefusal))
		}
	}
	w.Flush()
	for _, p := range problems {
		fmt.Fprintln(out, p)
	}
}
