// Package esmparam defines each parameter of a Kinesis event-source mapping
// once: its name in the template, the values AWS accepts, its default and a
// line saying what it does. The template (what `sluice validate` reports)
// and the trigger (what a mapping refuses to start with) both check values
// against this table, so the two cannot drift apart.
//
// It imports nothing of Sluice's, so the template can use it without
// depending on the trigger.
package esmparam

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Int is an integer parameter; a duration one (…InSeconds) counts whole
// seconds.
type Int struct {
	// Name is the property's key under the event's Properties.
	Name string
	// Doc says what the parameter does, in one line.
	Doc string
	// Min and Max bound the values AWS's model allows, inclusive.
	Min, Max int
	// Floor, when above Min, is where the accepted values resume after
	// Min: Min is then the sentinel -1 (no limit) and Min+1 to Floor-1 are
	// refused, as Lambda refuses a MaximumRecordAgeInSeconds of 0–59 that
	// its model allows. Zero when the whole range is accepted.
	Floor int
	// Default is the value when the property is absent.
	Default int
	// Unit is time.Second for a duration, zero for a count.
	Unit time.Duration
}

// The integer parameters of a Kinesis event source (AWS::Lambda::
// EventSourceMapping), with Lambda's ranges and defaults.
var (
	BatchSize = Int{
		Name: "BatchSize", Min: 1, Max: 10000, Default: 100,
		Doc: "the most records one invocation gets",
	}
	MaximumBatchingWindowInSeconds = Int{
		Name: "MaximumBatchingWindowInSeconds", Min: 0, Max: 300, Default: 0, Unit: time.Second,
		Doc: "how long to gather records before invoking with fewer than BatchSize",
	}
	ParallelizationFactor = Int{
		Name: "ParallelizationFactor", Min: 1, Max: 10, Default: 1,
		Doc: "how many batches of one shard are in flight at once, in partition-key lanes",
	}
	MaximumRetryAttempts = Int{
		Name: "MaximumRetryAttempts", Min: -1, Max: 10000, Default: -1,
		Doc: "how often a failed batch is retried; -1 retries until its records expire",
	}
	MaximumRecordAgeInSeconds = Int{
		Name: "MaximumRecordAgeInSeconds", Min: -1, Floor: 60, Max: 604800, Default: -1, Unit: time.Second,
		Doc: "records older than this are discarded before an invocation; -1 keeps them however old",
	}
	TumblingWindowInSeconds = Int{
		Name: "TumblingWindowInSeconds", Min: 0, Max: 900, Default: 0, Unit: time.Second,
		Doc: "the length of a tumbling window whose state the function carries; 0 for none",
	}
)

// Ints lists every integer parameter, in the order the template documents
// them.
var Ints = []Int{
	BatchSize, MaximumBatchingWindowInSeconds, ParallelizationFactor,
	MaximumRetryAttempts, MaximumRecordAgeInSeconds, TumblingWindowInSeconds,
}

// Check returns nil if n is accepted, else why not, worded to follow the
// property's path ("…BatchSize: must be between 1 and 10000, got 0").
func (p Int) Check(n int) error { return p.check(n, strconv.Itoa(n)) }

// CheckDuration is Check for a duration parameter given as a Go duration,
// as the trigger's Config holds it. The duration is measured in whole
// Units rounded away from zero, so a fraction never slips past Max (300.5 s
// is refused for a 300 s limit) and the plan's -1 ns ("no limit") reads as
// the sentinel -1; fractions below the Unit are otherwise allowed, for
// tests.
func (p Int) CheckDuration(d time.Duration) error {
	if p.Unit == 0 {
		return fmt.Errorf("is a count, not a duration (got %s)", d)
	}
	return p.check(p.Units(d), strconv.FormatFloat(float64(d)/float64(p.Unit), 'f', -1, 64))
}

// Units is d in whole Units, rounded away from zero (see CheckDuration).
func (p Int) Units(d time.Duration) int {
	n := d / p.Unit
	if d%p.Unit > 0 {
		n++
	} else if d%p.Unit < 0 {
		n--
	}
	return int(n)
}

// Duration is n Units: the Go value of the template's n for a duration
// parameter.
func (p Int) Duration(n int) time.Duration { return time.Duration(n) * p.Unit }

func (p Int) check(n int, got string) error {
	if n < p.Min || n > p.Max {
		return fmt.Errorf("must be between %d and %d, got %s", p.Min, p.Max, got)
	}
	if p.Floor > p.Min && n != p.Min && n < p.Floor {
		return fmt.Errorf("must be %d (infinite) or between %d and %d, got %s", p.Min, p.Floor, p.Max, got)
	}
	return nil
}

// Enum is a string parameter with a fixed set of values.
type Enum struct {
	Name   string
	Doc    string
	Values []string
}

// StartingPosition is where a mapping starts reading a shard it has no
// checkpoint for.
var StartingPosition = Enum{
	Name:   "StartingPosition",
	Values: []string{"TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"},
	Doc:    "where reading starts in a shard without a checkpoint: the oldest record, the next new one, or a time",
}

// Check returns nil if s is one of the values, else why not.
func (e Enum) Check(s string) error {
	for _, v := range e.Values {
		if s == v {
			return nil
		}
	}
	return fmt.Errorf("must be %s, got %q", orList(e.Values), s)
}

// orList is "A, B or C".
func orList(vs []string) string {
	if len(vs) < 2 {
		return strings.Join(vs, "")
	}
	return strings.Join(vs[:len(vs)-1], ", ") + " or " + vs[len(vs)-1]
}
