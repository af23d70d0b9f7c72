package localdir

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file maps S3 keys to paths below a bucket directory and back (the
// rule is in the package comment). S3 takes any UTF-8 key up to 1,024
// bytes; a file system refuses names over 255 bytes, and gives "", "." and
// ".." a meaning of their own. Each '/'-separated segment of a key becomes
// one file or directory name, so the tree keeps the key's depth (a
// partition value stays one directory).

const (
	// maxName is the longest name written for a segment: NAME_MAX (255 on
	// Linux and macOS) less the ".json" of the segment's metadata file.
	maxName = 250
	// escape starts every name that is not a segment verbatim. '@' is not
	// special to shells (unlike '~', which expands to $HOME) and is rare at
	// the start of a key segment.
	escape = '@'
	// hashHex is the length of the SHA-256 in a long segment's name.
	hashHex = 2 * sha256.Size
	// readableMax is how much of a long segment its name keeps.
	readableMax = maxName - 2 - hashHex
)

// encodeSegment returns the file name of one key segment. long reports
// that the name is a long form, whose segment must be recorded in a sidecar
// (the name alone does not hold it).
func encodeSegment(s string) (name string, long bool) {
	if s != "" && s != "." && s != ".." && s[0] != escape && len(s) <= maxName {
		return s, false
	}
	if n := string(escape) + s; len(n) <= maxName && !hasHashSuffix(n) {
		return n, false
	}
	cut := min(len(s), readableMax)
	for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return string(escape) + s[:cut] + string(escape) + segmentHash(s), true
}

// decodeSegment inverts encodeSegment. For a long form it returns the
// segment's hash and the readable prefix its name kept; the caller looks
// the segment up by hash.
func decodeSegment(name string) (seg, hash string) {
	switch {
	case name == "" || name[0] != escape:
		return name, ""
	case hasHashSuffix(name):
		return name[1 : len(name)-hashHex-1], name[len(name)-hashHex:]
	}
	return name[1:], ""
}

// segmentHash names a long segment: lower-case hex SHA-256.
func segmentHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// hasHashSuffix reports whether name ends in '@' and 64 lower-case hex
// digits after a leading '@': the shape of a long form.
func hasHashSuffix(name string) bool {
	if len(name) < hashHex+2 || name[0] != escape || name[len(name)-hashHex-1] != escape {
		return false
	}
	for i := len(name) - hashHex; i < len(name); i++ {
		if c := name[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// encodeKey maps a key to a '/'-separated path relative to its bucket
// directory, and returns the segments that need a sidecar.
func encodeKey(key string) (rel string, long []string) {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		n, l := encodeSegment(s)
		if l {
			long = append(long, s)
		}
		segs[i] = n
	}
	return strings.Join(segs, "/"), long
}

// decodeKey inverts encodeKey; lookup returns the segment recorded for a
// long form's hash.
func decodeKey(rel string, lookup func(hash string) (string, error)) (string, error) {
	segs := strings.Split(rel, "/")
	for i, n := range segs {
		s, h := decodeSegment(n)
		if h != "" {
			full, err := lookup(h)
			if err != nil {
				return "", fmt.Errorf("name %q: %w", n, err)
			}
			if segmentHash(full) != h || !strings.HasPrefix(full, s) {
				return "", fmt.Errorf("name %q: the recorded segment does not match it", n)
			}
			s = full
		}
		segs[i] = s
	}
	return strings.Join(segs, "/"), nil
}
