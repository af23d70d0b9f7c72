package frontdoor

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuote(t *testing.T) {
	if got := Quote("Kinesis_20131202.Foo"); got != "Kinesis_20131202.Foo" {
		t.Fatalf("short value changed: %q", got)
	}
	for _, fill := range []string{"x", "é", "日本"} {
		v := strings.Repeat(fill, 100_000/len(fill))
		got := Quote(v)
		if len(got) > maxQuote+32 || !utf8.ValidString(got) || !strings.HasSuffix(got, "… ("+strconv.Itoa(len(v))+" bytes)") {
			t.Fatalf("100 KB of %q quoted as %d bytes: %q", fill, len(got), got)
		}
	}
}

func TestCapMessage(t *testing.T) {
	if got := CapMessage("unknown operation Foo"); got != "unknown operation Foo" {
		t.Fatalf("short message changed: %q", got)
	}
	for _, n := range []int{MaxMessage + 1, 100_000, 10_000_000} {
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
