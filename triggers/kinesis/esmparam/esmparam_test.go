package esmparam_test

import (
	"testing"
	"time"

	"github.com/sluice-dev/sluice/triggers/kinesis/esmparam"
)

func TestCheckWords(t *testing.T) {
	tests := []struct {
		p    esmparam.Int
		n    int
		want string
	}{
		{esmparam.BatchSize, 0, "must be between 1 and 10000, got 0"},
		{esmparam.BatchSize, 10000, ""},
		{esmparam.MaximumRecordAgeInSeconds, -1, ""},
		{esmparam.MaximumRecordAgeInSeconds, -2, "must be between -1 and 604800, got -2"},
		{esmparam.MaximumRecordAgeInSeconds, 0, "must be -1 (infinite) or between 60 and 604800, got 0"},
		{esmparam.MaximumRecordAgeInSeconds, 59, "must be -1 (infinite) or between 60 and 604800, got 59"},
		{esmparam.MaximumRecordAgeInSeconds, 60, ""},
		{esmparam.MaximumRetryAttempts, 0, ""},
	}
	for _, tc := range tests {
		err := tc.p.Check(tc.n)
		if got := errText(err); got != tc.want {
			t.Errorf("%s %d: %q, want %q", tc.p.Name, tc.n, got, tc.want)
		}
	}
}

// TestCheckDurationRoundsAwayFromZero: a fraction of a second never slips
// past a bound, and the plan's -1 ns is the "no limit" sentinel.
func TestCheckDurationRoundsAwayFromZero(t *testing.T) {
	tests := []struct {
		p    esmparam.Int
		d    time.Duration
		want string
	}{
		{esmparam.MaximumBatchingWindowInSeconds, 20 * time.Millisecond, ""},
		{esmparam.MaximumBatchingWindowInSeconds, 300 * time.Second, ""},
		{esmparam.MaximumBatchingWindowInSeconds, 300*time.Second + time.Nanosecond, "must be between 0 and 300, got 300.000000001"},
		{esmparam.MaximumBatchingWindowInSeconds, -time.Nanosecond, "must be between 0 and 300, got -0.000000001"},
		{esmparam.MaximumRecordAgeInSeconds, -1, ""},
		{esmparam.MaximumRecordAgeInSeconds, -time.Second, ""},
		{esmparam.MaximumRecordAgeInSeconds, -time.Second - 1, "must be between -1 and 604800, got -1.000000001"},
		{esmparam.MaximumRecordAgeInSeconds, 30 * time.Second, "must be -1 (infinite) or between 60 and 604800, got 30"},
		{esmparam.BatchSize, time.Second, "is a count, not a duration (got 1s)"},
	}
	for _, tc := range tests {
		if got := errText(tc.p.CheckDuration(tc.d)); got != tc.want {
			t.Errorf("%s %v: %q, want %q", tc.p.Name, tc.d, got, tc.want)
		}
	}
}

// TestTableIsConsistent: every default is accepted and every name is
// unique, so a typo in the table fails here rather than in a template.
func TestTableIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range esmparam.Ints {
		if seen[p.Name] {
			t.Errorf("%s is in the table twice", p.Name)
		}
		seen[p.Name] = true
		if err := p.Check(p.Default); err != nil {
			t.Errorf("%s: the default %d is refused: %v", p.Name, p.Default, err)
		}
		if p.Doc == "" {
			t.Errorf("%s has no Doc line", p.Name)
		}
	}
	for _, v := range esmparam.StartingPosition.Values {
		if err := esmparam.StartingPosition.Check(v); err != nil {
			t.Error(err)
		}
	}
	if got := errText(esmparam.StartingPosition.Check("EARLIEST")); got != `must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got "EARLIEST"` {
		t.Errorf("StartingPosition EARLIEST: %q", got)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
