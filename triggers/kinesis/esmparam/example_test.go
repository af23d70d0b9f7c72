package esmparam_test

import (
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/triggers/kinesis/esmparam"
)

func ExampleInt_Check() {
	fmt.Println(esmparam.BatchSize.Check(20000))
	fmt.Println(esmparam.MaximumRecordAgeInSeconds.Check(30))
	fmt.Println(esmparam.MaximumRecordAgeInSeconds.Check(-1))
	// Output:
	// must be between 1 and 10000, got 20000
	// must be -1 (infinite) or between 60 and 604800, got 30
	// <nil>
}

func ExampleInt_CheckDuration() {
	// The trigger holds durations; a fraction past the limit is refused.
	fmt.Println(esmparam.MaximumBatchingWindowInSeconds.CheckDuration(300*time.Second + 500*time.Millisecond))
	fmt.Println(esmparam.MaximumBatchingWindowInSeconds.CheckDuration(20 * time.Millisecond))
	// Output:
	// must be between 0 and 300, got 300.5
	// <nil>
}

// Ints drives both `sluice validate` and a mapping's own checks.
func ExampleInts() {
	for _, p := range esmparam.Ints {
		fmt.Printf("%s: %d to %d, default %d\n", p.Name, p.Min, p.Max, p.Default)
	}
	// Output:
	// BatchSize: 1 to 10000, default 100
	// MaximumBatchingWindowInSeconds: 0 to 300, default 0
	// ParallelizationFactor: 1 to 10, default 1
	// MaximumRetryAttempts: -1 to 10000, default -1
	// MaximumRecordAgeInSeconds: -1 to 604800, default -1
	// TumblingWindowInSeconds: 0 to 900, default 0
}
