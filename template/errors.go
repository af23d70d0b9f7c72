package template

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem found in a template, located by file, line and column
// (both 1-based; Line 0 means the problem has no place in the file, such as a
// parameter override naming no parameter).
type Error struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
	Msg  string `json:"msg"`
}

// Error formats the problem as file:line:col: message, the form editors and
// CI log scanners recognise.
func (e Error) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors is every problem found in one template, in file order. Parse reports
// all of them at once so a user fixes a template in one pass, not one error per
// run.
type Errors struct {
	List []Error `json:"errors"`
}

// Error returns one formatted problem per line.
func (e *Errors) Error() string {
	var b strings.Builder
	for i, x := range e.List {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(x.Error())
	}
	return b.String()
}

// Unwrap exposes each problem to errors.As.
func (e *Errors) Unwrap() []error {
	out := make([]error, len(e.List))
	for i, x := range e.List {
		out[i] = x
	}
	return out
}

// sortErrors orders problems by position and drops exact duplicates, which
// arise when one Globals value is merged into several functions.
func sortErrors(list []Error) []Error {
	slices.SortStableFunc(list, func(a, b Error) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Col, b.Col)
	})
	return slices.CompactFunc(list, func(a, b Error) bool { return a == b })
}

// suggest returns ` (did you mean X?)` for the candidate nearest to got, or ""
// when nothing is close enough to be a plausible typo.
func suggest(got string, candidates []string) string {
	best, bestD := "", -1
	lg := strings.ToLower(got)
	for _, c := range candidates {
		d := levenshtein(lg, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	// Allow one edit per three characters (at least one): "Handlr" → "Handler"
	// and "Stag" → "Stage", but not "Nope" → "Role".
	if bestD < 0 || bestD > max(1, len(got)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// levenshtein is the edit distance between a and b, counting bytes: property
// names are ASCII.
func levenshtein(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		// Only names are compared; refuse to spend quadratic time on junk.
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
