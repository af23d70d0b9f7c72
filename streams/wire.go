package streams

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// The service checks a JSON request in two passes before it looks anything
// up, and so do we (wire_specs.go lists what each operation checks):
//
//  1. deserialization: a member of the wrong JSON type is a
//     SerializationException whose message is the service's own (its Java
//     deserializer speaking: "class java.lang.Boolean can not be converted
//     to an String"), carried in a "Message" member;
//  2. model constraints: every violated constraint of every member, in the
//     model's member order, in one ValidationException
//     ("2 validation errors detected: Value '' at 'streamName' failed to
//     satisfy constraint: ...; Value ...").
//
// Only then does an operation run, so an empty stream name is a validation
// error, never "stream not found". The facts (messages, member and
// constraint order, numbers clamped to the int32 range) are those recorded
// against AWS by kinesalite's test suite; see RATIONALE.md.

// wkind is a member's type in the service model.
type wkind uint8

const (
	wString wkind = iota
	wInteger
	wLong
	wBoolean
	wBlob
	wTimestamp
	wList
	wMap
	wStruct
)

// checkKind is one model constraint.
type checkKind uint8

const (
	cNotNull  checkKind = iota
	cMin                // value >= n
	cMax                // value <= n
	cPattern            // the whole value matches re
	cLenMin             // length >= n (bytes of a blob, entries of a list or map)
	cLenMax             // length <= n
	cEnum               // one of words
	cEachLen            // every list entry's length within [n, n2]
	cKeyLen             // every map key's length within [n, n2]
	cValueLen           // every map value's length within [n, n2]
)

type wcheck struct {
	kind  checkKind
	n, n2 int64
	re    *regexp.Regexp
	text  string // the pattern as the message prints it
	words []string
	// unless, for cNotNull: the sibling member that may stand in for
	// this one (StreamARN for StreamName).
	unless string
}

// wmember is one member of a request shape: its wire name, type and
// constraints in the order the service checks them.
type wmember struct {
	name   string
	kind   wkind
	checks []wcheck
	elem   *wmember  // list and map values
	fields []wmember // structures
	// memberStr is how the service prints a list entry in a message
	// (PutRecords prints its entries as Java object names).
	memberStr string
}

// wvalue is a decoded JSON value that keeps object members in order (the
// service prints a map in the order it was sent).
type wvalue struct {
	kind  byte // 0 null, 's' string, 'n' number, 'b' bool, 'a' array, 'o' object
	str   string
	num   json.Number
	b     bool
	items []wvalue
	keys  []string
}

func (v *wvalue) member(name string) *wvalue {
	for i, k := range v.keys {
		if k == name {
			return &v.items[i]
		}
	}
	return nil
}

// errSyntax marks a body that is not JSON at all.
var errSyntax = errors.New("not JSON")

func parseWire(body []byte) (wvalue, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	v, err := readWire(d)
	if err != nil {
		return v, errSyntax
	}
	if _, err := d.Token(); err != io.EOF {
		return v, errSyntax
	}
	return v, nil
}

func readWire(d *json.Decoder) (wvalue, error) {
	t, err := d.Token()
	if err != nil {
		return wvalue{}, err
	}
	switch x := t.(type) {
	case nil:
		return wvalue{}, nil
	case string:
		return wvalue{kind: 's', str: x}, nil
	case json.Number:
		return wvalue{kind: 'n', num: x}, nil
	case bool:
		return wvalue{kind: 'b', b: x}, nil
	case json.Delim:
		if x == '[' {
			v := wvalue{kind: 'a'}
			for d.More() {
				it, err := readWire(d)
				if err != nil {
					return v, err
				}
				v.items = append(v.items, it)
			}
			_, err := d.Token()
			return v, err
		}
		v := wvalue{kind: 'o'}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return v, err
			}
			it, err := readWire(d)
			if err != nil {
				return v, err
			}
			ks, _ := k.(string)
			// A repeated member: the last one wins, as in a JSON object.
			if old := v.member(ks); old != nil {
				*old = it
				continue
			}
			v.keys = append(v.keys, ks)
			v.items = append(v.items, it)
		}
		_, err := d.Token()
		return v, err
	}
	return wvalue{}, fmt.Errorf("unexpected token %v", t)
}

func serializationError(msg string) error {
	return &smithy.GenericAPIError{Code: "SerializationException", Message: msg, Fault: smithy.FaultClient}
}

const bigNumberClass = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"

// typeCheck walks v against the members of a structure, failing with the
// service's deserialization message at the first member of the wrong
// JSON type. Numbers for integer members are truncated toward minus
// infinity and clamped to the type's range, as the service reads them;
// changed reports whether any number was rewritten.
func typeCheck(v *wvalue, fields []wmember) (changed bool, err error) {
	for i := range fields {
		m := &fields[i]
		mv := v.member(m.name)
		if mv == nil || mv.kind == 0 {
			continue
		}
		c, err := typeCheckValue(mv, m)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}

func typeCheckValue(v *wvalue, m *wmember) (changed bool, err error) {
	structural := func() error {
		if v.kind == 'a' {
			return serializationError("Start of list found where not expected")
		}
		return serializationError("Start of structure or map found where not expected.")
	}
	switch m.kind {
	case wBoolean:
		switch v.kind {
		case 'n':
			return false, serializationError(bigNumberClass + " can not be converted to an Boolean")
		case 's':
			return false, serializationError("'" + capQuoted(strings.ToUpper(v.str)) + "' can not be converted to an Boolean")
		case 'a', 'o':
			return false, structural()
		}
	case wInteger, wLong:
		name := "Integer"
		if m.kind == wLong {
			name = "Long"
		}
		switch v.kind {
		case 'b':
			return false, serializationError("class java.lang.Boolean can not be converted to an " + name)
		case 's':
			return false, serializationError("class java.lang.String can not be converted to an " + name)
		case 'a', 'o':
			return false, structural()
		case 'n':
			n := normalizeInt(string(v.num), m.kind == wInteger)
			if n != string(v.num) {
				v.num = json.Number(n)
				return true, nil
			}
		}
	case wString:
		switch v.kind {
		case 'b':
			return false, serializationError("class java.lang.Boolean can not be converted to an String")
		case 'n':
			return false, serializationError(bigNumberClass + " can not be converted to an String")
		case 'a', 'o':
			return false, structural()
		}
	case wBlob:
		switch v.kind {
		case 'b':
			return false, serializationError("class java.lang.Boolean can not be converted to a Blob")
		case 'n':
			return false, serializationError(bigNumberClass + " can not be converted to a Blob")
		case 'a', 'o':
			return false, structural()
		case 's':
			if msg := blobProblem(v.str); msg != "" {
				return false, serializationError("'" + capQuoted(v.str) + "' can not be converted to a Blob: " + msg)
			}
		}
	case wTimestamp:
		switch v.kind {
		case 'b':
			return false, serializationError("class java.lang.Boolean can not be converted to milliseconds since epoch")
		case 's':
			return false, serializationError("class java.lang.String can not be converted to milliseconds since epoch")
		case 'a', 'o':
			return false, structural()
		}
	case wList:
		switch v.kind {
		case 's', 'n', 'b':
			return false, serializationError("Expected list or null")
		case 'o':
			return false, serializationError("Start of structure or map found where not expected.")
		}
		return typeCheckItems(v, m.elem)
	case wMap:
		switch v.kind {
		case 's', 'n', 'b':
			return false, serializationError("Expected map or null")
		case 'a':
			return false, serializationError("Start of list found where not expected")
		}
		return typeCheckItems(v, m.elem)
	case wStruct:
		switch v.kind {
		case 's', 'n', 'b':
			return false, serializationError("Expected null")
		case 'a':
			return false, serializationError("Start of list found where not expected")
		}
		return typeCheck(v, m.fields)
	}
	return false, nil
}

// typeCheckItems checks every element of a list or map against elem.
func typeCheckItems(v *wvalue, elem *wmember) (changed bool, err error) {
	for i := range v.items {
		if v.items[i].kind == 0 {
			continue
		}
		c, err := typeCheckValue(&v.items[i], elem)
		if err != nil {
			return false, err
		}
		changed = changed || c
	}
	return changed, nil
}

// normalizeInt reads a JSON number as the service does for an integer
// member: the fraction is dropped (toward minus infinity) and an Integer
// larger than the int32 range becomes 2147483647.
func normalizeInt(s string, int32Range bool) string {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil && !int32Range {
		return s
	}
	f, ok := new(big.Float).SetString(s)
	if !ok {
		return s
	}
	i, _ := f.Int(nil) // truncates toward zero
	if f.Sign() < 0 && !f.IsInt() {
		i.Sub(i, big.NewInt(1))
	}
	if int32Range && i.Cmp(big.NewInt(math.MaxInt32)) > 0 {
		return strconv.Itoa(math.MaxInt32)
	}
	if !i.IsInt64() {
		if i.Sign() > 0 {
			return strconv.FormatInt(math.MaxInt64, 10)
		}
		return strconv.FormatInt(math.MinInt64, 10)
	}
	return i.String()
}

// blobProblem says why s is not the service's idea of base64, or "".
func blobProblem(s string) string {
	if len(s)%4 != 0 {
		return fmt.Sprintf("Base64 encoded length is expected a multiple of 4 bytes but found: %d", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/'
		if c == '=' {
			// Padding only at the end: "=" then only "=".
			ok = strings.TrimRight(s[i:], "=") == ""
		}
		if !ok {
			return fmt.Sprintf("Invalid Base64 character: '%c'", c)
		}
	}
	if b, err := base64.StdEncoding.Strict().DecodeString(s); err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return "Invalid last non-pad Base64 character dectected"
	}
	return ""
}

// validate lists the constraint violations of a structure's members, in
// the service's order, at most ten as the service does.
func validate(v *wvalue, fields []wmember, parent string, errs *[]string) {
	for i := range fields {
		m := &fields[i]
		mv := v.member(m.name)
		if mv != nil && mv.kind == 0 {
			mv = nil
		}
		if mv == nil && len(m.checks) > 0 && m.checks[0].kind == cNotNull && m.checks[0].unless != "" {
			if alt := v.member(m.checks[0].unless); alt != nil && alt.kind != 0 {
				continue
			}
		}
		validateMember(mv, m, joinPath(parent, lowerFirst(m.name)), errs)
	}
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func validateMember(v *wvalue, m *wmember, path string, errs *[]string) {
	for _, c := range m.checks {
		if len(*errs) >= 10 {
			return
		}
		if v == nil {
			if c.kind == cNotNull {
				*errs = append(*errs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", path))
			}
			continue
		}
		if msg := violates(v, m, &c); msg != "" {
			*errs = append(*errs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", printValue(v, m), path, msg))
		}
	}
	if v == nil {
		return
	}
	switch m.kind {
	case wList:
		for i := range v.items {
			if v.items[i].kind != 0 && m.elem != nil {
				validateMember(&v.items[i], m.elem, fmt.Sprintf("%s.%d.member", path, i+1), errs)
			}
		}
	case wStruct:
		validate(v, m.fields, path, errs)
	}
}

func lengthOf(v *wvalue, m *wmember) int64 {
	switch {
	case m.kind == wBlob:
		b, _ := base64.StdEncoding.DecodeString(v.str)
		return int64(len(b))
	case v.kind == 'a' || v.kind == 'o':
		return int64(len(v.items))
	}
	return int64(len(v.str))
}

func violates(v *wvalue, m *wmember, c *wcheck) string {
	switch c.kind {
	case cMin, cMax:
		n, err := strconv.ParseInt(string(v.num), 10, 64)
		if err != nil {
			return ""
		}
		if c.kind == cMin && n < c.n {
			return fmt.Sprintf("Member must have value greater than or equal to %d", c.n)
		}
		if c.kind == cMax && n > c.n {
			return fmt.Sprintf("Member must have value less than or equal to %d", c.n)
		}
	case cPattern:
		if !c.re.MatchString(v.str) {
			return "Member must satisfy regular expression pattern: " + c.text
		}
	case cLenMin:
		if lengthOf(v, m) < c.n {
			return fmt.Sprintf("Member must have length greater than or equal to %d", c.n)
		}
	case cLenMax:
		if lengthOf(v, m) > c.n {
			return fmt.Sprintf("Member must have length less than or equal to %d", c.n)
		}
	case cEnum:
		for _, w := range c.words {
			if v.str == w {
				return ""
			}
		}
		return "Member must satisfy enum value set: [" + strings.Join(c.words, ", ") + "]"
	case cEachLen, cKeyLen, cValueLen:
		for i := range v.items {
			s := v.items[i].str
			if c.kind == cKeyLen {
				s = v.keys[i]
			}
			if int64(len(s)) < c.n || int64(len(s)) > c.n2 {
				bounds := fmt.Sprintf("[Member must have length less than or equal to %d, Member must have length greater than or equal to %d]", c.n2, c.n)
				switch c.kind {
				case cKeyLen:
					return "Map keys must satisfy constraint: " + bounds
				case cValueLen:
					return "Map value must satisfy constraint: " + bounds
				}
				return "Member must satisfy constraint: " + bounds
			}
		}
	}
	return ""
}

// maxPrintedEntries bounds how many entries of a list of structures
// (PutRecords' records) a message prints: the service prints every one,
// and kinesalite's suite recorded 501 of them, but a body of 11 MiB of
// empty records would otherwise make a message of 250 MB.
const maxPrintedEntries = 512

// printValue renders a value as the service's messages do, capped
// (capQuoted) so that a message never echoes a huge input back.
func printValue(v *wvalue, m *wmember) string {
	switch m.kind {
	case wBlob:
		n := lengthOf(v, m)
		return fmt.Sprintf("java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]", n, n)
	case wList:
		if m.memberStr != "" {
			n := min(len(v.items), maxPrintedEntries)
			s := "[" + strings.Repeat(m.memberStr+", ", n)
			s = strings.TrimSuffix(s, ", ")
			if n < len(v.items) {
				s += fmt.Sprintf(", … (%d entries)", len(v.items))
			}
			return s + "]"
		}
		var b strings.Builder
		b.WriteByte('[')
		for i := range v.items {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(scalarString(&v.items[i]))
		}
		b.WriteByte(']')
		return capQuoted(b.String())
	case wMap:
		var b strings.Builder
		b.WriteByte('{')
		for i := range v.items {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v.keys[i])
			b.WriteByte('=')
			b.WriteString(scalarString(&v.items[i]))
		}
		b.WriteByte('}')
		return capQuoted(b.String())
	}
	return capQuoted(scalarString(v))
}

func scalarString(v *wvalue) string {
	switch v.kind {
	case 's':
		return v.str
	case 'n':
		return string(v.num)
	case 'b':
		return strconv.FormatBool(v.b)
	case 0:
		return "null"
	}
	return ""
}

// checkWire runs both passes on a JSON request body for the operation
// whose input members are fields. Besides the error it returns nil, or a
// rewritten body to decode instead when numbers had to be read the
// service's way (truncated, clamped) for the SDK's decoder to take them.
func checkWire(fields []wmember, body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if msg := jsonUnicodeProblem(body); msg != "" {
		return nil, serializationError(msg)
	}
	v, err := parseWire(body)
	if err != nil {
		return nil, serializationError("")
	}
	if v.kind != 'o' {
		return nil, serializationError("Start of structure or map found where not expected.")
	}
	changed, err := typeCheck(&v, fields)
	if err != nil {
		return nil, err
	}
	var errs []string
	validate(&v, fields, "", &errs)
	if len(errs) > 0 {
		noun := "error"
		if len(errs) > 1 {
			noun = "errors"
		}
		return nil, &types.ValidationException{Message: aws.String(fmt.Sprintf("%d validation %s detected: %s", len(errs), noun, strings.Join(errs, "; ")))}
	}
	if changed {
		return appendWire(nil, &v), nil
	}
	return nil, nil
}

func appendWire(dst []byte, v *wvalue) []byte {
	switch v.kind {
	case 's':
		return appendJSONString(dst, v.str)
	case 'n':
		return append(dst, v.num...)
	case 'b':
		return strconv.AppendBool(dst, v.b)
	case 'a':
		dst = append(dst, '[')
		for i := range v.items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendWire(dst, &v.items[i])
		}
		return append(dst, ']')
	case 'o':
		dst = append(dst, '{')
		for i := range v.items {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, v.keys[i])
			dst = append(dst, ':')
			dst = appendWire(dst, &v.items[i])
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

// jsonUnicodeProblem says why the text of a JSON body is not Unicode, or
// "". encoding/json silently turns both problems into U+FFFD, which would
// store a key (or tag, or name) other than the one sent, and make
// different keys one:
//
//   - bytes that are not UTF-8. RFC 8259 requires UTF-8; the service's
//     parser (Jackson) fails on them, which the service answers with a
//     SerializationException, as it answers any body it cannot parse (the
//     message is ours; the type is our reading of the service, not a
//     recorded answer).
//   - a \uD800–\uDFFF escape that is not half of a surrogate pair. JSON's
//     grammar admits it, but it names no Unicode character and has no
//     UTF-8 form. Jackson would pass it on; what the service then does
//     with it is not known. We refuse it the same way: our choice.
//
// The PutRecords fast path never needs this (it takes only printable
// ASCII without escapes); the slow paths and the wire checks call it.
func jsonUnicodeProblem(body []byte) string {
	if !utf8.Valid(body) {
		for i := 0; i < len(body); {
			r, n := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && n == 1 {
				return fmt.Sprintf("The request body is not valid UTF-8: byte 0x%02x at offset %d. JSON text must be UTF-8.", body[i], i)
			}
			i += n
		}
	}
	for i := 0; i < len(body); {
		j := bytes.IndexByte(body[i:], '\\')
		if j < 0 {
			break
		}
		i += j
		if i+1 < len(body) && body[i+1] != 'u' {
			i += 2 // \\, \" and the others: the next byte is not an escape
			continue
		}
		c, ok := hex4(body, i+2)
		if !ok {
			i += 2 // not an escape encoding/json accepts either
			continue
		}
		switch {
		case c >= 0xD800 && c < 0xDC00:
			if lo, ok := hex4(body, i+8); ok && body[i+6] == '\\' && body[i+7] == 'u' && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 12
				continue
			}
			fallthrough
		case c >= 0xDC00 && c <= 0xDFFF:
			return fmt.Sprintf("The request body has the escape %s at offset %d, half of a UTF-16 surrogate pair without its other half: it is not a Unicode character. JSON strings must be Unicode text.", body[i:i+6], i)
		}
		i += 6
	}
	return ""
}

// hex4 reads the four hex digits of a \u escape at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
