package main

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// The helpers below walk JSON that fastjson has already validated, so they
// check nothing: they find where things end.

// member is one key/value pair of an object, as offsets into its bytes.
type member struct {
	keyStart, keyEnd int // the key, quotes included
	valStart, valEnd int // the value, as written
}

// members iterates over the members of a validated JSON object in order.
type members struct {
	b []byte
	i int // the next key, or the closing brace
}

func newMembers(b []byte, open int) members {
	return members{b: b, i: skipSpace(b, open+1)}
}

func (it *members) next() (member, bool) {
	b := it.b
	if b[it.i] != '"' {
		return member{}, false // '}'
	}
	var m member
	m.keyStart = it.i
	m.keyEnd = skipString(b, it.i)
	m.valStart = skipSpace(b, skipSpace(b, m.keyEnd)+1) // past ':'
	m.valEnd = skipValue(b, m.valStart)
	i := skipSpace(b, m.valEnd)
	if b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	it.i = i
	return m, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] == '"'.
// It jumps from quote to quote with bytes.IndexByte (assembly, also in a
// WASM guest) instead of looking at every byte in Go.
func skipString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		j += k
		// A quote preceded by an odd number of backslashes is escaped.
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		return j
	}
}

// keyName returns the name of a raw (quoted) key. Keys are compared decoded,
// as encoding/json compares them: "event\u005fid" is event_id.
func keyName(raw []byte) []byte {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	return []byte(unquote(raw))
}

// unquote decodes a raw JSON string (quotes included) as encoding/json
// does; an invalid \u escape (a lone surrogate) becomes U+FFFD.
func unquote(raw []byte) string {
	s := raw[1 : len(raw)-1]
	i := bytes.IndexByte(s, '\\')
	if i < 0 {
		return string(s)
	}
	out := make([]byte, 0, len(s))
	for {
		out = append(out, s[:i]...)
		s = s[i:]
		if len(s) == 0 {
			return string(out)
		}
		// s[0] == '\\'
		switch c := s[1]; c {
		case 'b':
			out, s = append(out, '\b'), s[2:]
		case 'f':
			out, s = append(out, '\f'), s[2:]
		case 'n':
			out, s = append(out, '\n'), s[2:]
		case 'r':
			out, s = append(out, '\r'), s[2:]
		case 't':
			out, s = append(out, '\t'), s[2:]
		case 'u':
			r := hex4(s[2:6])
			s = s[6:]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					r2 = hex4(s[2:6])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r, s = d, s[6:]
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out, s = append(out, c), s[2:]
		}
		if i = bytes.IndexByte(s, '\\'); i < 0 {
			i = len(s)
		}
	}
}

// hex4 decodes the four hex digits of a \u escape (validated).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendQuoted appends s as a JSON string, escaped as encoding/json escapes
// it (HTML characters included).
func appendQuoted(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			if r == utf8.RuneError {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// kindOf names the JSON value that starts with c, for error messages.
func kindOf(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}
