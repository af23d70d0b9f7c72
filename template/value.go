package template

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// kind is the shape of a value.
type kind int

const (
	kNull kind = iota
	kScalar
	kMap
	kList
	// kInvalid stands for a value whose resolution already failed and was
	// reported; readers skip it silently so one mistake yields one error.
	kInvalid
)

// pos is a 1-based line and column in the template file.
type pos struct{ line, col int }

// value is a YAML node reduced to what CloudFormation sees: null, scalar text,
// ordered map or list. Short tags such as !Ref become the long form
// ({"Ref": x}) so there is one code path per intrinsic. Positions survive the
// Globals merge and intrinsic resolution, so every error can point at the
// text that caused it.
type value struct {
	kind kind
	// str is the scalar text exactly as written: "000123" stays a string, as
	// CloudFormation keeps account IDs.
	str string
	// tag is the resolved YAML tag of a scalar (!!str, !!int, !!bool, ...).
	tag     string
	entries []entry
	items   []*value
	pos     pos
	// origin is the logical ID of the resource a !Ref resolved to, and attr the
	// attribute of a !GetAtt. They let the reader see that an environment
	// variable names a delivery stream by reference, not by coincidence.
	origin, attr string
}

type entry struct {
	key    string
	keyPos pos
	val    *value
}

// get returns the value under key and its entry, or nil.
func (v *value) get(key string) *entry {
	if v == nil || v.kind != kMap {
		return nil
	}
	for i := range v.entries {
		if v.entries[i].key == key {
			return &v.entries[i]
		}
	}
	return nil
}

// describe names a value's shape for error messages.
func (v *value) describe() string {
	switch v.kind {
	case kNull:
		return "null"
	case kMap:
		if _, ok := v.intrinsic(); ok {
			return "an intrinsic function"
		}
		return "a mapping"
	case kList:
		return "a list"
	default:
		return quote(v.str)
	}
}

// intrinsic reports whether v is {"Ref": x} or {"Fn::X": x}, and its name.
func (v *value) intrinsic() (string, bool) {
	if v == nil || v.kind != kMap || len(v.entries) != 1 {
		return "", false
	}
	k := v.entries[0].key
	if k == "Ref" || strings.HasPrefix(k, "Fn::") {
		return k, true
	}
	return "", false
}

// scalar is a string an intrinsic produced. Its empty tag tells it apart
// from a quoted literal, which SAM rejects where it wants a number.
func scalar(s string, p pos) *value { return &value{kind: kScalar, str: s, pos: p} }

var invalid = &value{kind: kInvalid}

// maxNodes bounds alias expansion ("billion laughs") and pathological input:
// real templates have a few thousand nodes.
const maxNodes = 200_000

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

// converter turns yaml.Nodes into values, reporting duplicate keys and
// non-scalar keys.
type converter struct {
	p      *parser
	nodes  int
	tooBig bool
}

func (c *converter) convert(n *yaml.Node, depth int) *value {
	c.nodes++
	if c.nodes > maxNodes || depth > maxDepth {
		if !c.tooBig {
			c.tooBig = true
			c.p.errorf(pos{n.Line, n.Column}, "template is too large or too deeply nested (aliases count once per use)")
		}
		return invalid
	}
	p := pos{n.Line, n.Column}
	var v *value
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &value{kind: kNull, pos: p}
		}
		return c.convert(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return invalid
		}
		return c.convert(n.Alias, depth+1)
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return &value{kind: kNull, pos: p}
		}
		v = &value{kind: kScalar, str: n.Value, tag: n.Tag, pos: p}
		if strings.HasPrefix(n.Tag, "!!") || n.Tag == "" {
			return v
		}
		// A short tag on a scalar (!Ref X, !Sub "..."): keep the text.
		v.tag = "!!str"
	case yaml.SequenceNode:
		v = &value{kind: kList, pos: p}
		for _, it := range n.Content {
			v.items = append(v.items, c.convert(it, depth+1))
		}
	case yaml.MappingNode:
		v = &value{kind: kMap, pos: p}
		seen := map[string]pos{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := pos{k.Line, k.Column}
			if k.Kind != yaml.ScalarNode {
				c.p.errorf(kp, "mapping keys must be strings")
				continue
			}
			if first, dup := seen[k.Value]; dup {
				c.p.errorf(kp, "duplicate key %s (first defined at line %d)", k.Value, first.line)
				continue
			}
			seen[k.Value] = kp
			cv := c.convert(val, depth+1)
			v.entries = append(v.entries, entry{key: k.Value, keyPos: kp, val: cv})
		}
	default:
		return invalid
	}
	if t := n.Tag; strings.HasPrefix(t, "!") && !strings.HasPrefix(t, "!!") {
		return shortTag(t[1:], v, p)
	}
	return v
}

// shortTag turns !Name x into the long form: !Ref and !Condition map to
// {"Ref": x} and {"Condition": x}, every other !X to {"Fn::X": x} (as the
// SAM CLI's yamlhelper does).
func shortTag(name string, v *value, p pos) *value {
	key := "Fn::" + name
	if name == "Ref" || name == "Condition" {
		key = name
	}
	return &value{kind: kMap, pos: p, entries: []entry{{key: key, keyPos: p, val: v}}}
}
