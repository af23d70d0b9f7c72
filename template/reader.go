package template

import (
	"fmt"
	"strconv"
	"strings"
)

// object reads one mapping of a template: it checks the property names,
// resolves each property on first read and checks its type and range, and
// reports problems under a path such as Resources.Enrich.Properties.Timeout.
// A missing object (absent key, null) reads as empty, so optional
// sub-objects need no nil checks; an object whose value was already
// reported as wrong reads as empty too.
type object struct {
	p    *parser
	v    *value // a mapping, or nil
	path string
	at   pos // where to report a missing required property
	// strict rejects quoted literals for numbers and booleans: SAM checks
	// event properties itself and refuses BatchSize: "100", where
	// CloudFormation would accept it.
	strict bool
}

// object wraps v, which may still be an intrinsic, and reports keys not in
// allowed with the nearest valid name.
func (p *parser) object(v *value, at pos, path string, allowed []string) *object {
	o := &object{p: p, path: path, at: at}
	v = p.shallow(v)
	switch {
	case v == nil || v.kind == kNull || v.kind == kInvalid:
		return o
	case v.kind != kMap:
		p.errorf(v.pos, "%s must be a mapping, got %s", path, v.describe())
		return o
	}
	o.v = v
	if allowed != nil {
		o.checkKeys(allowed)
	}
	return o
}

func (o *object) checkKeys(allowed []string) {
	for _, e := range o.v.entries {
		if !contains(allowed, e.key) {
			o.p.errorf(e.keyPos, "unknown property %s in %s%s", e.key, o.path, suggest(e.key, allowed))
		}
	}
}

// present reports whether the object was given at all.
func (o *object) present() bool { return o.v != nil }

func (o *object) get(key string) *entry { return o.v.get(key) }

func (o *object) has(key string) bool { return o.val(key) != nil }

// child reads key as a nested object.
func (o *object) child(key string, allowed []string) *object {
	e := o.get(key)
	if e == nil {
		return &object{p: o.p, path: o.path + "." + key, at: o.at}
	}
	return o.p.object(e.val, e.keyPos, o.path+"."+key, allowed)
}

// val resolves key; nil when absent, null or AWS::NoValue.
func (o *object) val(key string) *value {
	e := o.get(key)
	if e == nil {
		return nil
	}
	v := o.p.resolve(e.val)
	if v == nil || v.kind == kNull {
		return nil
	}
	return v
}

func (o *object) errorf(at pos, key, format string, args ...any) {
	o.p.errorf(at, "%s.%s: %s", o.path, key, fmt.Sprintf(format, args...))
}

func (o *object) missing(key string) {
	o.p.errorf(o.at, "%s: missing required property %s", o.path, key)
}

// literal reads a scalar without resolving intrinsics, for sections that
// CloudFormation does not resolve (Parameters).
func (o *object) literal(key string, required bool) (string, pos, bool) {
	e := o.get(key)
	if e == nil || e.val.kind == kNull {
		if required {
			o.missing(key)
		}
		return "", o.at, false
	}
	if e.val.kind != kScalar {
		o.errorf(e.val.pos, key, "must be a string, got %s", e.val.describe())
		return "", e.val.pos, false
	}
	return e.val.str, e.val.pos, true
}

// scalarVal resolves key and requires a scalar; ok is false when absent or
// wrong (wrong is reported).
func (o *object) scalarVal(key string, required bool) (*value, bool) {
	v := o.val(key)
	switch {
	case v == nil:
		if required {
			o.missing(key)
		}
		return nil, false
	case v.kind == kInvalid:
		return nil, false
	case v.kind != kScalar:
		o.errorf(v.pos, key, "must be a string, got %s", v.describe())
		return nil, false
	}
	return v, true
}

// str reads a string property.
func (o *object) str(key string, required bool) (string, pos, bool) {
	v, ok := o.scalarVal(key, required)
	if !ok {
		return "", o.at, false
	}
	return v.str, v.pos, true
}

// strLen reads a string property of lo..hi characters.
func (o *object) strLen(key string, required bool, lo, hi int) (string, pos, bool) {
	s, at, ok := o.str(key, required)
	if ok && (len(s) < lo || len(s) > hi) {
		o.errorf(at, key, "length must be between %d and %d, got %d", lo, hi, len(s))
		return "", at, false
	}
	return s, at, ok
}

// integer reads an integer in lo..hi; CloudFormation accepts "100" for 100,
// so a quoted number is fine.
func (o *object) integer(key string, def, lo, hi int) int {
	n, _, _ := o.integerAt(key, def, lo, hi)
	return n
}

func (o *object) integerAt(key string, def, lo, hi int) (int, pos, bool) {
	v, ok := o.scalarValTyped(key, "an integer")
	if !ok {
		return def, o.at, false
	}
	if o.strict && v.tag == "!!str" {
		o.errorf(v.pos, key, "must be an integer, got the string %s", quote(v.str))
		return def, v.pos, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.str))
	if err != nil {
		o.errorf(v.pos, key, "must be an integer, got %s", quote(v.str))
		return def, v.pos, false
	}
	if n < lo || n > hi {
		o.errorf(v.pos, key, "must be between %d and %d, got %d", lo, hi, n)
		return def, v.pos, false
	}
	return n, v.pos, true
}

// scalarValTyped is scalarVal with a type name for the message.
func (o *object) scalarValTyped(key, typ string) (*value, bool) {
	v := o.val(key)
	switch {
	case v == nil || v.kind == kInvalid:
		return nil, false
	case v.kind != kScalar:
		o.errorf(v.pos, key, "must be %s, got %s", typ, v.describe())
		return nil, false
	}
	return v, true
}

// boolean reads true/false (any case, quoted or not, as CloudFormation
// accepts "true").
func (o *object) boolean(key string, def bool) bool {
	v, ok := o.scalarValTyped(key, "a boolean")
	if !ok {
		return def
	}
	if o.strict && v.tag == "!!str" {
		o.errorf(v.pos, key, "must be true or false, got the string %s", quote(v.str))
		return def
	}
	switch strings.ToLower(v.str) {
	case "true":
		return true
	case "false":
		return false
	}
	o.errorf(v.pos, key, "must be true or false, got %s", quote(v.str))
	return def
}

// enum reads a string that must be one of allowed (case-sensitive, as AWS
// rejects "gzip" for GZIP).
func (o *object) enum(key string, required bool, def string, allowed ...string) string {
	s, at, ok := o.str(key, required)
	if !ok {
		return def
	}
	if !contains(allowed, s) {
		o.errorf(at, key, "must be %s, got %s%s", oneOf(allowed), quote(s), suggest(s, allowed))
		return def
	}
	return s
}

// list resolves key and requires a list.
func (o *object) list(key string) []*value {
	v := o.val(key)
	switch {
	case v == nil || v.kind == kInvalid:
		return nil
	case v.kind != kList:
		o.errorf(v.pos, key, "must be a list, got %s", v.describe())
		return nil
	}
	return v.items
}

// resolvedAny resolves key whatever its shape, reporting intrinsic errors.
func (o *object) resolvedAny(key string, required bool) *value {
	v := o.val(key)
	if v == nil && required {
		o.missing(key)
	}
	return v
}

// oneOf renders allowed values as "A, B or C".
func oneOf(allowed []string) string {
	if len(allowed) == 1 {
		return allowed[0]
	}
	return strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
}
