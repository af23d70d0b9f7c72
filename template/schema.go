package template

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	jskind "github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// samSchemaJSON is SAM's own JSON schema (draft-04), from
// aws/serverless-application-model schema_source/sam.schema.json; see
// schema/README.md for its source and licence.
//
//go:embed schema/sam.schema.json
var samSchemaJSON []byte

const samSchemaURL = "https://sluice.invalid/sam.schema.json"

var samSchema struct {
	once sync.Once
	raw  any // the parsed schema, to find the properties an error's schema allows
	sch  *jsonschema.Schema
	err  error
}

func loadSAMSchema() (*jsonschema.Schema, any, error) {
	s := &samSchema
	s.once.Do(func() {
		s.raw, s.err = jsonschema.UnmarshalJSON(bytes.NewReader(samSchemaJSON))
		if s.err != nil {
			s.err = fmt.Errorf("SAM schema: %w", s.err)
			return
		}
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft4)
		c.UseRegexpEngine(compileLookahead)
		if s.err = c.AddResource(samSchemaURL, s.raw); s.err != nil {
			s.err = fmt.Errorf("SAM schema: %w", s.err)
			return
		}
		s.sch, s.err = c.Compile(samSchemaURL)
		if s.err != nil {
			s.err = fmt.Errorf("SAM schema: %w", s.err)
		}
	})
	return s.sch, s.raw, s.err
}

// CheckSchema validates the template src against SAM's own JSON schema, the
// one `sam validate` and cfn-lint use, after turning CloudFormation's short
// tags (!Ref, !GetAtt, !Sub, ...) into their long JSON forms. It is an
// independent second opinion on AWS::Serverless::* resources and Globals; the
// schema accepts every other resource type on its Type alone, so Parse's own
// rules remain the check for those.
//
// It returns one Error per schema violation, located at the YAML node the
// violation is about, in file order (nil when the template conforms). The
// error is non-nil only when the template is not a YAML document at all
// (Parse reports why) or the embedded schema cannot be used.
func CheckSchema(filename string, src []byte) ([]Error, error) {
	sch, raw, err := loadSAMSchema()
	if err != nil {
		return nil, err
	}
	doc, err := schemaDocument(src)
	if err != nil {
		return nil, err
	}
	verr := sch.Validate(doc.json)
	if verr == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return nil, verr
	}
	r := &schemaReporter{file: filename, doc: doc, raw: raw, meant: map[string]bool{}}
	leaves := r.leaves(ve)
	for _, leaf := range leaves {
		if k, ok := leaf.ErrorKind.(*jskind.AdditionalProperties); ok {
			allowed := r.allowedProperties(leaf.SchemaURL)
			for _, name := range k.Properties {
				if s := nearest(name, allowed); s != "" {
					r.meant[pointerOf(leaf.InstanceLocation)+"/"+pointerToken(s)] = true
				}
			}
		}
	}
	for _, leaf := range leaves {
		r.report(leaf)
	}
	return sortErrors(r.errs), nil
}

// --- YAML to JSON ----------------------------------------------------------

// jsonDoc is a template as the JSON value CloudFormation sees, with the place
// in the file of every value and of every mapping key.
type jsonDoc struct {
	json any
	pos  *posNode
}

// posNode mirrors one JSON value: where it starts, where the key naming it
// is (zero outside a mapping), and the same for its entries or items.
type posNode struct {
	at, key pos
	kids    map[string]*posNode
	items   []*posNode
}

// errNotYAML is CheckSchema's answer for input that Parse rejects as YAML.
var errNotYAML = errors.New("the template is not a YAML document (sluice validate says why)")

// schemaDocument converts YAML to the JSON document SAM's schema describes:
// scalars get their YAML types (numbers stay exact as json.Number), short
// tags become long forms as `sam` and cfn-lint read them, and aliases are
// expanded within the limits Parse applies (each use counts, so a "billion
// laughs" document is refused, not validated).
func schemaDocument(src []byte) (*jsonDoc, error) {
	var n yaml.Node
	if err := safeDecode(yaml.NewDecoder(bytes.NewReader(src)), &n); err != nil {
		return nil, fmt.Errorf("%w: %v", errNotYAML, err)
	}
	c := &jsonConverter{anchors: map[*yaml.Node]*converted{}}
	v := c.convert(&n, 0)
	if c.tooBig {
		return nil, fmt.Errorf("%w: too large or too deeply nested (aliases count once per use)", errNotYAML)
	}
	return &jsonDoc{json: v.json, pos: v.pos}, nil
}

// converted is one converted node; size and height count the nodes it
// stands for with every alias inside it expanded.
type converted struct {
	json         any
	pos          *posNode
	size, height int
	done         bool // false while an anchor is being converted: an alias to it is a cycle
}

type jsonConverter struct {
	nodes  int
	tooBig bool
	// anchors converts each aliased node once; its uses share the value.
	anchors map[*yaml.Node]*converted
}

var nothing = &converted{pos: &posNode{}, done: true}

func (c *jsonConverter) convert(n *yaml.Node, depth int) *converted {
	if c.tooBig {
		return nothing
	}
	c.nodes++
	if c.nodes > maxNodes || depth > maxDepth {
		c.tooBig = true
		return nothing
	}
	at := pos{n.Line, n.Column}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &converted{pos: &posNode{at: pos{1, 1}}, size: 1, height: 1, done: true}
		}
		return c.convert(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nothing
		}
		v, ok := c.anchors[n.Alias]
		switch {
		case ok && !v.done:
			c.tooBig = true // an alias inside its own anchor never ends
			return nothing
		case ok:
			c.nodes += v.size
			if c.nodes > maxNodes || depth+v.height > maxDepth {
				c.tooBig = true
				return nothing
			}
			return v
		}
		v = &converted{}
		c.anchors[n.Alias] = v
		*v = *c.convert(n.Alias, depth+1)
		v.done = true
		return v
	}
	if t := n.Tag; strings.HasPrefix(t, "!") && !strings.HasPrefix(t, "!!") {
		return c.shortTag(n, t[1:], at, depth)
	}
	return c.plain(n, at, depth)
}

// shortTag turns !Name x into {"Fn::Name": x}; !Ref and !Condition keep
// their names, and a tagged scalar is its text (!Ref 123 names "123").
func (c *jsonConverter) shortTag(n *yaml.Node, name string, at pos, depth int) *converted {
	key := "Fn::" + name
	if name == "Ref" || name == "Condition" {
		key = name
	}
	var inner *converted
	switch {
	case n.Kind == yaml.ScalarNode && name == "GetAtt":
		// !GetAtt Res.Attr.Sub is ["Res", "Attr.Sub"]: the resource name
		// ends at the first dot.
		if res, attr, ok := strings.Cut(n.Value, "."); ok {
			inner = &converted{json: []any{res, attr}, size: 3, height: 2, done: true,
				pos: &posNode{at: at, items: []*posNode{{at: at}, {at: at}}}}
		} else {
			inner = &converted{json: n.Value, pos: &posNode{at: at}, size: 1, height: 1, done: true}
		}
	case n.Kind == yaml.ScalarNode:
		inner = &converted{json: n.Value, pos: &posNode{at: at}, size: 1, height: 1, done: true}
	default:
		inner = c.plain(n, at, depth)
	}
	ip := *inner.pos
	ip.key = at
	return &converted{
		json: map[string]any{key: inner.json},
		pos:  &posNode{at: at, kids: map[string]*posNode{key: &ip}},
		size: inner.size + 1, height: inner.height + 1, done: true,
	}
}

// plain converts a node without looking at a short tag on it.
func (c *jsonConverter) plain(n *yaml.Node, at pos, depth int) *converted {
	out := &converted{pos: &posNode{at: at}, size: 1, height: 1, done: true}
	switch n.Kind {
	case yaml.ScalarNode:
		out.json = scalarJSON(n)
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, it := range n.Content {
			v := c.convert(it, depth+1)
			list = append(list, v.json)
			out.pos.items = append(out.pos.items, v.pos)
			out.size += v.size
			out.height = max(out.height, v.height+1)
		}
		out.json = list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		out.pos.kids = make(map[string]*posNode, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				continue // Parse reports non-string keys
			}
			if _, dup := m[k.Value]; dup {
				continue // and duplicate keys; the first one counts
			}
			v := c.convert(val, depth+1)
			m[k.Value] = v.json
			kp := *v.pos // a copy: an alias's value is shared, its key is not
			kp.key = pos{k.Line, k.Column}
			out.pos.kids[k.Value] = &kp
			out.size += v.size
			out.height = max(out.height, v.height+1)
		}
		out.json = m
	}
	return out
}

// scalarJSON types a plain scalar as YAML resolved it: ints and floats become
// exact json.Numbers, true/false booleans, null nil, anything else (including
// timestamps, which CloudFormation reads as text) the string as written.
func scalarJSON(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if decodeScalar(n, &b) {
			return b
		}
	case "!!int":
		if len(n.Value) > 1 && n.Value[0] == '0' && n.Value[1] >= '0' && n.Value[1] <= '9' {
			// 000123 is not octal 83: an account ID stays its text, as in Parse
			return n.Value
		}
		var i int64
		if decodeScalar(n, &i) {
			return json.Number(strconv.FormatInt(i, 10))
		}
		var u uint64
		if decodeScalar(n, &u) {
			return json.Number(strconv.FormatUint(u, 10))
		}
		var f float64
		if decodeScalar(n, &f) && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case "!!float":
		var f float64
		if decodeScalar(n, &f) && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	return n.Value
}

// decodeScalar is yaml's own scalar resolution, never panicking.
func decodeScalar(n *yaml.Node, out any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return n.Decode(out) == nil
}

// --- the one lookahead in SAM's schema --------------------------------------

// lookahead is ^(?!not)rest: Go's regexp has no lookaround, and SAM's schema
// tells its own resource types from any other with ^(?!AWS::Serverless::).+$.
type lookahead struct {
	src       string
	not, rest *regexp.Regexp
}

func (l *lookahead) String() string { return l.src }

func (l *lookahead) MatchString(s string) bool {
	return !l.not.MatchString(s) && l.rest.MatchString(s)
}

// compileLookahead is Go's regexp plus a leading negative lookahead.
func compileLookahead(s string) (jsonschema.Regexp, error) {
	re, err := regexp.Compile(s)
	if err == nil {
		return re, nil
	}
	body, ok := strings.CutPrefix(s, "^(?!")
	if !ok {
		return nil, err
	}
	// the lookahead ends at the first ')' that closes it
	nest, end := 0, -1
	for i := 0; i < len(body) && end < 0; i++ {
		switch body[i] {
		case '\\':
			i++
		case '(':
			nest++
		case ')':
			if nest == 0 {
				end = i
			}
			nest--
		}
	}
	if end < 0 {
		return nil, err
	}
	not, nerr := regexp.Compile("^(?:" + body[:end] + ")")
	rest, rerr := regexp.Compile("^(?:" + body[end+1:] + ")")
	if nerr != nil || rerr != nil {
		return nil, err
	}
	return &lookahead{src: s, not: not, rest: rest}, nil
}

// --- errors -----------------------------------------------------------------

type schemaReporter struct {
	file string
	doc  *jsonDoc
	raw  any
	errs []Error
	// meant are the properties a misspelt one was evidently meant to be:
	// "missing AuthType" adds nothing to "AuthTyp ... did you mean AuthType".
	meant map[string]bool
}

// pointerToken escapes a key for a JSON pointer.
func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func pointerOf(loc []string) string {
	var b strings.Builder
	for _, t := range loc {
		b.WriteByte('/')
		b.WriteString(pointerToken(t))
	}
	return b.String()
}

// leaves flattens an error tree to the violations worth showing: for anyOf
// and oneOf it keeps the branch the value was evidently meant to match (see
// pickBranch) instead of one complaint per alternative.
func (r *schemaReporter) leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	switch e.ErrorKind.(type) {
	case *jskind.AnyOf, *jskind.OneOf:
		if len(e.Causes) == 0 {
			return []*jsonschema.ValidationError{e}
		}
		return r.pickBranch(e)
	}
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, r.leaves(c)...)
	}
	return out
}

// pickBranch chooses among the failed alternatives of an anyOf/oneOf at
// instance location L. An alternative that failed on the value's own type,
// or on L's Type property (the discriminator of resources and events:
// AWS::Serverless::Function, Kinesis, ...), was not the one meant; of the
// rest, the one whose complaints reach deepest into the value is. When every
// alternative was ruled out, their type or Type complaints merge into one.
func (r *schemaReporter) pickBranch(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	here := pointerOf(e.InstanceLocation)
	var kept [][]*jsonschema.ValidationError
	var typeWant []string // wanted JSON types, when alternatives differ by type
	var typeGot string
	var enumWant []any // wanted Type values, when alternatives differ by Type
	var enumErr *jsonschema.ValidationError
	var missingType *jsonschema.ValidationError // no Type to tell alternatives apart
	for _, branch := range e.Causes {
		ls := r.leaves(branch)
		ruledOut := false
		for _, l := range ls {
			lp := pointerOf(l.InstanceLocation)
			switch k := l.ErrorKind.(type) {
			case *jskind.Type:
				if lp == here {
					ruledOut = true
					typeGot = k.Got
					typeWant = append(typeWant, k.Want...)
				}
			case *jskind.Enum:
				if lp == here+"/Type" {
					ruledOut = true
					enumWant = append(enumWant, k.Want...)
					enumErr = l
				}
			case *jskind.Const:
				if lp == here+"/Type" {
					ruledOut = true
					enumWant = append(enumWant, k.Want)
					enumErr = l
				}
			case *jskind.Pattern:
				if lp == here+"/Type" {
					ruledOut = true
				}
			case *jskind.Required:
				if lp == here && slices.Contains(k.Missing, "Type") {
					ruledOut = true
					missingType = l
				}
			}
		}
		if !ruledOut {
			kept = append(kept, ls)
		}
	}
	switch {
	case len(kept) > 0:
		best, bestDepth := kept[0], -1
		for _, ls := range kept {
			d := 0
			for _, l := range ls {
				d = max(d, len(l.InstanceLocation))
			}
			if d > bestDepth || (d == bestDepth && len(ls) < len(best)) {
				best, bestDepth = ls, d
			}
		}
		return best
	case enumErr != nil:
		return []*jsonschema.ValidationError{{
			SchemaURL:        enumErr.SchemaURL,
			InstanceLocation: enumErr.InstanceLocation,
			ErrorKind:        &jskind.Enum{Got: enumGot(enumErr), Want: enumWant},
		}}
	case missingType != nil:
		return []*jsonschema.ValidationError{{
			SchemaURL:        missingType.SchemaURL,
			InstanceLocation: missingType.InstanceLocation,
			ErrorKind:        &jskind.Required{Missing: []string{"Type"}},
		}}
	case len(typeWant) > 0:
		slices.Sort(typeWant)
		return []*jsonschema.ValidationError{{
			SchemaURL:        e.SchemaURL,
			InstanceLocation: e.InstanceLocation,
			ErrorKind:        &jskind.Type{Got: typeGot, Want: slices.Compact(typeWant)},
		}}
	}
	return []*jsonschema.ValidationError{e}
}

func enumGot(e *jsonschema.ValidationError) any {
	switch k := e.ErrorKind.(type) {
	case *jskind.Enum:
		return k.Got
	case *jskind.Const:
		return k.Got
	}
	return nil
}

// at is where to point for a problem with the value at loc; onKey points
// at the key naming it instead (for a missing or unwanted property, the line
// a reader scans). A location the file does not have (a value an intrinsic
// stands for) falls back to the nearest place it does.
func (r *schemaReporter) at(loc []string, onKey bool) pos {
	n := r.doc.pos
	for _, t := range loc {
		var next *posNode
		if n.kids != nil {
			next = n.kids[t]
		} else if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(n.items) {
			next = n.items[i]
		}
		if next == nil {
			break
		}
		n = next
	}
	if onKey && n.key.line > 0 {
		return n.key
	}
	if n.at.line > 0 {
		return n.at
	}
	return pos{1, 1}
}

// path renders an instance location the way Parse names places:
// Resources.Enrich.Properties.Policies[0].
func (r *schemaReporter) path(loc []string) string {
	if len(loc) == 0 {
		return "template"
	}
	var b strings.Builder
	cur := r.doc.json
	for _, t := range loc {
		switch v := cur.(type) {
		case []any:
			b.WriteString("[" + t + "]")
			if i, err := strconv.Atoi(t); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
			continue
		case map[string]any:
			cur = v[t]
		default:
			cur = nil
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	return b.String()
}

func (r *schemaReporter) add(at pos, format string, args ...any) {
	r.errs = append(r.errs, Error{File: r.file, Line: at.line, Col: at.col, Msg: fmt.Sprintf(format, args...)})
}

var english = message.NewPrinter(language.English)

func (r *schemaReporter) report(e *jsonschema.ValidationError) {
	ptr := pointerOf(e.InstanceLocation)
	path := r.path(e.InstanceLocation)
	if fn, ok := intrinsicName(r.valueAt(e.InstanceLocation)); ok {
		switch e.ErrorKind.(type) {
		case *jskind.AdditionalProperties, *jskind.Required, *jskind.Type:
			// the schema sees a mapping where it wants a literal
			r.add(r.at(e.InstanceLocation, false), "%s: SAM's schema does not accept an intrinsic function (%s) here", path, fn)
			return
		}
	}
	switch k := e.ErrorKind.(type) {
	case *jskind.AdditionalProperties:
		allowed := r.allowedProperties(e.SchemaURL)
		for _, name := range k.Properties {
			r.add(r.at(append(slices.Clip(e.InstanceLocation), name), true), "%s: additional property %s is not allowed by SAM's schema%s",
				path, strconv.Quote(name), quotedSuggestion(name, allowed))
		}
	case *jskind.Required:
		for _, name := range k.Missing {
			if r.meant[ptr+"/"+pointerToken(name)] {
				continue
			}
			r.add(r.at(e.InstanceLocation, true), "%s: missing property %s, which SAM's schema requires", path, strconv.Quote(name))
		}
	case *jskind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = jsonTypeName(w)
		}
		got := jsonTypeName(k.Got)
		if v, ok := r.valueAt(e.InstanceLocation).(string); ok {
			got = quote(v)
		}
		r.add(r.at(e.InstanceLocation, false), "%s: SAM's schema wants %s here, got %s", path, oneOf(want), got)
	case *jskind.Enum:
		var want, names []string
		for _, w := range k.Want {
			want = append(want, displayJSON(w))
			if s, ok := w.(string); ok {
				names = append(names, s)
			}
		}
		hint := ""
		if s, ok := k.Got.(string); ok {
			hint = quotedSuggestion(s, names)
		}
		if len(want) > 6 && hint != "" {
			// a long list helps less than the one value that was meant
			r.add(r.at(e.InstanceLocation, false), "%s: %s is not one of the %d values SAM's schema allows here%s", path, displayJSON(k.Got), len(want), hint)
			break
		}
		r.add(r.at(e.InstanceLocation, false), "%s: SAM's schema allows only %s here, got %s%s", path, oneOf(want), displayJSON(k.Got), hint)
	case *jskind.Pattern:
		r.add(r.at(e.InstanceLocation, false), "%s: %s does not match %s, as SAM's schema requires", path, strconv.Quote(k.Got), strconv.Quote(k.Want))
	case *jskind.OneOf:
		if len(k.Subschemas) > 1 {
			r.add(r.at(e.InstanceLocation, false), "%s: matches more than one of the forms SAM's schema allows here", path)
			break
		}
		r.add(r.at(e.InstanceLocation, false), "%s: matches none of the forms SAM's schema allows here", path)
	case *jskind.AnyOf:
		r.add(r.at(e.InstanceLocation, false), "%s: matches none of the forms SAM's schema allows here", path)
	default:
		r.add(r.at(e.InstanceLocation, false), "%s: SAM's schema: %s", path, k.LocalizedString(english))
	}
}

// nearest is the candidate suggest would name, or "".
func nearest(got string, candidates []string) string {
	name, ok := strings.CutPrefix(suggest(got, candidates), " (did you mean ")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(name, "?)")
}

// quotedSuggestion is suggest's " (did you mean X?)" with X quoted.
func quotedSuggestion(got string, candidates []string) string {
	if name := nearest(got, candidates); name != "" {
		return fmt.Sprintf(" (did you mean %s?)", strconv.Quote(name))
	}
	return ""
}

// valueAt is the document's value at an instance location.
func (r *schemaReporter) valueAt(loc []string) any {
	cur := r.doc.json
	for _, t := range loc {
		if cur = jsonStep(cur, t); cur == nil {
			return nil
		}
	}
	return cur
}

// jsonStep is the member t of a decoded JSON object, or the element at
// index t of an array; nil when there is none.
func jsonStep(cur any, t string) any {
	switch v := cur.(type) {
	case map[string]any:
		return v[t]
	case []any:
		i, err := strconv.Atoi(t)
		if err != nil || i < 0 || i >= len(v) {
			return nil
		}
		return v[i]
	}
	return nil
}

func jsonTypeName(t string) string {
	switch t {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "string":
		return "a string"
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "boolean":
		return "a boolean"
	}
	return t
}

func displayJSON(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case nil:
		return "null"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

// allowedProperties lists the properties the schema object owning an
// additionalProperties keyword declares, for "did you mean".
func (r *schemaReporter) allowedProperties(schemaURL string) []string {
	_, frag, ok := strings.Cut(schemaURL, "#")
	if !ok {
		return nil
	}
	frag = strings.TrimSuffix(frag, "/additionalProperties")
	cur := r.raw
	for _, t := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if t == "" {
			continue
		}
		t = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		if cur = jsonStep(cur, t); cur == nil {
			return nil
		}
	}
	obj, _ := cur.(map[string]any)
	props, _ := obj["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// intrinsicName reports whether v is {"Ref": x}, {"Condition": x} or
// {"Fn::X": x}, and its name.
func intrinsicName(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	for k := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, true
		}
	}
	return "", false
}
