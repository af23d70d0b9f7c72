package firehose

import (
	"fmt"
	"unicode/utf8"
)

// This file checks object keys against what S3 takes, when records are
// routed: a record whose key S3 would refuse goes to the error output
// then, before its object is built, instead of making an object that no
// retry can deliver (and that would hold the rest of its partition).
//
// What S3 refuses, from the S3 User Guide ("Naming Amazon S3 objects"): a
// key is a sequence of Unicode characters whose UTF-8 encoding is at most
// 1,024 bytes long (and at least one character). The guide lists
// characters that "might require special handling" or are best avoided
// (control characters, '\', '{', '^', ...), but as advice, not as
// refusals; we know of no other rule for general purpose buckets, and it
// is not verified whether S3 refuses keys made only of "." and ".."
// segments (directory buckets have stricter rules: not covered). Partition
// values are percent-escaped when rendered (escapeValue), so a rendered
// key is valid UTF-8 free of control characters and backslashes; length is
// what can go wrong: rule 6 counts characters, and 512 characters can be
// 2,048 bytes.

// maxObjectKey is S3's limit on a key's length, in bytes of UTF-8.
const maxObjectKey = 1024

// objectNameLen is the length of what objectKey appends to the prefix for
// a route: <stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>.
func (cc *compiled) objectNameLen(rt *route) int {
	ext := cc.ext
	if cc.conv != nil && rt.ErrType != "" && cc.cfg.FileExtension == "" {
		ext = "" // as objectExt
	}
	return len(cc.cfg.Name) + 1 + len(versionID) + 1 + len("2006-01-02-15-04-05") + 1 + 36 + len(ext)
}

// checkObjectKey reports whether S3 takes a key made of prefix and an
// object name of nameLen bytes.
func checkObjectKey(prefix string, nameLen int) error {
	if err := checkKeyLength(len(prefix), nameLen); err != nil {
		return err
	}
	if !utf8.ValidString(prefix) {
		return fmt.Errorf("the object key would not be valid UTF-8, which S3 requires")
	}
	return nil
}

// checkKeyLength reports whether S3 takes a key made of a prefix of
// prefixLen bytes and an object name of nameLen bytes.
func checkKeyLength(prefixLen, nameLen int) error {
	if n := prefixLen + nameLen; n > maxObjectKey {
		return fmt.Errorf("the object key would be %d bytes in UTF-8 (a prefix of %d bytes); S3 takes at most %d", n, prefixLen, maxObjectKey)
	}
	return nil
}
