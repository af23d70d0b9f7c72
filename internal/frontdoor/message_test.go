package frontdoor

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCapMessage(t *testing.T) {
	if got := CapMessage("unknown operation Foo"); got != "unknown operation Foo" {
		t.Fatalf("short message changed: %q", got)
	}
	for _, n := range []int{MaxMessage + 1, 5000, 100_000, 10_000_000} {
		for _, fill := range []string{"x", "é", "日本"} {
			msg := "unknown operation " + strings.Repeat(fill, n/len(fill)) + " failed to satisfy constraint"
			got := CapMessage(msg)
			if len(got) > MaxMessage || !utf8.ValidString(got) {
				t.Fatalf("%d bytes of %q: capped to %d bytes, valid UTF-8 %v", len(msg), fill, len(got), utf8.ValidString(got))
			}
			if !strings.HasPrefix(got, "unknown operation ") || !strings.HasSuffix(got, "failed to satisfy constraint") ||
				!strings.Contains(got, " bytes cut]") {
				t.Fatalf("%d bytes: %q", len(msg), got)
			}
		}
	}
}
