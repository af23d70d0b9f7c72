package streams

import "testing"

// TestIncDecimal: PutRecords makes each sequence number of a run from the
// previous one, so the increment must agree with formatting the counter.
func TestIncDecimal(t *testing.T) {
	tests := []struct {
		hi, counter uint64
	}{
		{seqTag, 0},
		{seqTag, 8},
		{seqTag, 9},   // carry into the tens
		{seqTag, 999}, // carry across several digits
		{seqTag | 5<<32 | 7, 1<<64 - 2},
		{0, 9}, // a new digit: the caller falls back to formatting
		{0, 99},
	}
	for _, tc := range tests {
		b := appendSeq(nil, tc.hi, tc.counter)
		want := formatSeq(tc.hi, tc.counter+1)
		ok := incDecimal(b)
		if ok != (len(want) == len(b)) || (ok && string(b) != want) {
			t.Errorf("incDecimal(%s) = %q, %v; want %q", formatSeq(tc.hi, tc.counter), b, ok, want)
		}
	}
}
