package localdir

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzKeyMapping: every key CheckKey accepts maps to a path of names that
// a file system takes (none empty, ".", ".." or over 255 bytes, none with
// '/' or NUL), inside the bucket directory, and decodes back to itself.
func FuzzKeyMapping(f *testing.F) {
	for _, k := range []string{
		"a/b/c.gz", "/x", "a//b", "a/", ".", "..", "a/../b", "@", "@@/@.", "~/x",
		strings.Repeat("x", 300), "p/" + strings.Repeat("é", 200) + "/o",
		"@" + strings.Repeat("0", 64), "@a@" + strings.Repeat("f", 64),
		strings.Repeat("/", 40),
	} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if CheckKey(key) != nil {
			return
		}
		rel, long := encodeKey(key)
		side := map[string]string{}
		for _, s := range long {
			side[segmentHash(s)] = s
		}
		for _, n := range strings.Split(rel, "/") {
			if n == "" || n == "." || n == ".." || len(n) > maxName || strings.ContainsRune(n, 0) || !utf8.ValidString(n) {
				t.Fatalf("key %q maps to %q: bad name %q", key, rel, n)
			}
		}
		base := "/r/b"
		if p := filepath.Join(base, filepath.FromSlash(rel)); !within(base, p) || p == base {
			t.Fatalf("key %q maps to %q, outside %s", key, p, base)
		}
		got, err := decodeKey(rel, func(h string) (string, error) { return side[h], nil })
		if err != nil || got != key {
			t.Fatalf("decode(encode(%q)) = %q, %v (via %q)", key, got, err, rel)
		}
	})
}

func TestSegmentNames(t *testing.T) {
	long := strings.Repeat("x", 251)
	for s, want := range map[string]string{
		"plain": "plain", "": "@", ".": "@.", "..": "@..", "@a": "@@a", "...": "...",
		strings.Repeat("y", 250): strings.Repeat("y", 250),
		long:                     "@" + long[:184] + "@" + segmentHash(long),
	} {
		if got, _ := encodeSegment(s); got != want {
			t.Errorf("encodeSegment(%.20q) = %.30q, want %.30q", s, got, want)
		}
	}
}
