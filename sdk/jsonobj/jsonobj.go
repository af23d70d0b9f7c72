// Package jsonobj reads and edits the top level of one JSON object without
// decoding it: find a few fields, add or replace fields, drop fields, and
// keep every other member byte for byte.
//
// It exists because stream handlers do exactly that to every record, and
// decoding each record into a map with encoding/json is the largest cost of
// such a handler: about 30% of the whole pipeline's CPU natively, several
// times more in a Go guest compiled to WASM. Object validates the record
// strictly (fastjson, no allocation) and then only finds where members
// start and end; nested values are skipped, never decoded.
//
// The results are those of encoding/json on a map[string]json.RawMessage:
// keys compare decoded ("event\u005fid" is event_id), the last of duplicate
// keys wins, and String decodes as encoding/json does (the fuzz tests check
// this against encoding/json itself). Rare inputs (escaped keys, escapes in
// strings, invalid UTF-8) take encoding/json's own path.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Object is one validated JSON object, as offsets into its bytes. It does
// not copy data; data must not change while the Object is used.
type Object struct {
	data  []byte
	open  int // index of '{'
	close int // index of the closing '}'
}

// ErrNotObject is wrapped by Parse's error for valid JSON that is not an
// object (an array, a string, null, …).
var ErrNotObject = errors.New("not a JSON object")

// Parse validates data as exactly one JSON object (surrounding whitespace
// allowed).
func Parse(data []byte) (Object, error) {
	if err := fastjson.ValidateBytes(data); err != nil {
		return Object{}, fmt.Errorf("%w: %w", ErrNotObject, err)
	}
	// fastjson lets a control character through in a string that also
	// holds an escape, where encoding/json refuses it. Only a document with
	// a backslash can hide one, and few do; those are looked at again.
	if bytes.IndexByte(data, '\\') >= 0 && hasControl(data) && !json.Valid(data) {
		return Object{}, fmt.Errorf("%w: control character in a string", ErrNotObject)
	}
	open := skipSpace(data, 0)
	if data[open] != '{' {
		return Object{}, fmt.Errorf("%w: %s", ErrNotObject, kindOf(data[open]))
	}
	// A validated single object ends at its last non-space byte.
	end := len(data) - 1
	for isSpace(data[end]) {
		end--
	}
	return Object{data: data, open: open, close: end}, nil
}

// Member is one key/value pair of an Object.
type Member struct {
	// Key is the member's name, decoded (no quotes, escapes resolved).
	Key []byte
	// RawKey is the name as written, quotes included.
	RawKey []byte
	// Value is the value as written: a string with its quotes, a nested
	// object or array whole.
	Value []byte
}

// Members iterates over an Object's members in order:
//
//	for it := o.Members(); it.Next(); {
//		m := it.Member()
//	}
type Members struct {
	data   []byte
	i      int // the next key, or the closing brace
	valEnd int // where the current member's value ends
	m      Member
}

// Members returns an iterator over o's members.
func (o Object) Members() Members {
	return Members{data: o.data, i: skipSpace(o.data, o.open+1)}
}

// Next moves to the next member; false after the last.
func (it *Members) Next() bool {
	b := it.data
	if it.data == nil || b[it.i] != '"' {
		return false // '}'
	}
	keyEnd := skipString(b, it.i)
	valStart := skipSpace(b, skipSpace(b, keyEnd)+1) // past ':'
	valEnd := skipValue(b, valStart)
	it.m = Member{Key: keyName(b[it.i:keyEnd]), RawKey: b[it.i:keyEnd], Value: b[valStart:valEnd]}
	it.valEnd = valEnd
	i := skipSpace(b, valEnd)
	if b[i] == ',' {
		i = skipSpace(b, i+1)
	}
	it.i = i
	return true
}

// Member returns the current member.
func (it *Members) Member() Member { return it.m }

// Get returns the raw value of the last member named key, or nil when
// there is none.
func (o Object) Get(key string) []byte {
	var v []byte
	for it := o.Members(); it.Next(); {
		if m := it.Member(); string(m.Key) == key {
			v = m.Value
		}
	}
	return v
}

// Lookup sets vals[i] to the raw value of the last member named keys[i]
// (nil when there is none), in one pass over o: cheaper than one Get per
// key when a handler reads several fields.
func (o Object) Lookup(keys []string, vals [][]byte) {
	clear(vals)
	for it := o.Members(); it.Next(); {
		m := it.Member()
		for i, k := range keys {
			if string(m.Key) == k {
				vals[i] = m.Value
			}
		}
	}
}

// IsNonEmptyString reports whether a raw value is a string that decodes to
// something other than "", without decoding it: every escape stands for at
// least one character.
func IsNonEmptyString(raw []byte) bool {
	return len(raw) > 2 && raw[0] == '"'
}

// Field is a member to set: Value is a string, written JSON-quoted.
type Field struct {
	Key, Value string
}

// AppendSet appends o to dst with fields set: members with the same names
// are left out and the fields are added, in order, before the closing
// brace. Every other member is kept as written.
func (o Object) AppendSet(dst []byte, fields ...Field) []byte {
	for it := o.Members(); it.Next(); {
		if setsKey(fields, it.Member().Key) {
			dst = o.AppendWithout(dst, func(key []byte) bool { return setsKey(fields, key) })
			return appendFields(dst[:len(dst)-1], fields) // reopened: '}' dropped
		}
	}
	return o.AppendNew(dst, fields...)
}

// AppendNew appends o to dst with fields added before the closing brace,
// without looking for members of the same names: for a caller that knows
// there are none (Lookup found none), it saves AppendSet's pass over the
// members. (Were there one, the output would hold the name twice; decoders
// take the last, which is the new value.)
func (o Object) AppendNew(dst []byte, fields ...Field) []byte {
	// The object as written, up to the end of its last member.
	end := o.close
	for end > o.open+1 && isSpace(o.data[end-1]) {
		end--
	}
	return appendFields(append(dst, o.data[o.open:end]...), fields)
}

func appendFields(dst []byte, fields []Field) []byte {
	for _, f := range fields {
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = AppendQuoted(dst, f.Key)
		dst = append(dst, ':')
		dst = AppendQuoted(dst, f.Value)
	}
	return append(dst, '}')
}

func setsKey(fields []Field, key []byte) bool {
	for _, f := range fields {
		if f.Key == string(key) {
			return true
		}
	}
	return false
}

// AppendWithout appends o to dst without the members for which drop
// returns true (drop sees the decoded key). Whitespace between members is
// not kept.
func (o Object) AppendWithout(dst []byte, drop func(key []byte) bool) []byte {
	dst = append(dst, '{')
	first := true
	for it := o.Members(); it.Next(); {
		m := it.Member()
		if drop(m.Key) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, m.RawKey...)
		dst = append(dst, ':')
		dst = append(dst, m.Value...)
	}
	return append(dst, '}')
}

// String decodes a raw JSON value that is a string, as encoding/json
// decodes it. null decodes to "", as encoding/json leaves a string alone;
// anything else is an error naming what it is.
func String(raw []byte) (string, error) {
	switch {
	case len(raw) == 0:
		return "", errors.New("no value")
	case string(raw) == "null":
		return "", nil
	case raw[0] != '"':
		return "", fmt.Errorf("%s, not a string", kindOf(raw[0]))
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil
	}
	var s string // escapes or invalid UTF-8: encoding/json's own rules
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// AppendQuoted appends s as a JSON string, escaped as encoding/json escapes
// it (HTML characters included, invalid UTF-8 as U+FFFD).
func AppendQuoted(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// The helpers below walk JSON that fastjson has already validated, so they
// check nothing: they find where things end.

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
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
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
			j++
		}
		return j
	}
}

// keyName returns the name of a raw (quoted) key, decoded.
func keyName(raw []byte) []byte {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return inner
	}
	s, _ := String(raw) // validated: cannot fail
	return []byte(s)
}

// kindOf names the JSON value that starts with c, for error messages.
func kindOf(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
