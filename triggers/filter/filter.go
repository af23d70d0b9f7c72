// Package filter implements the event-source mapping's FilterCriteria: the
// EventBridge event-pattern language applied to Kinesis records
// (docs/semantics.md, "ESM event filtering"). A record's `data` is
// base64-decoded and parsed as JSON before matching; the metadata keys
// (partitionKey, sequenceNumber, approximateArrivalTimestamp,
// kinesisSchemaVersion) match too.
//
// Supported: exact values (string, number compared by its text, bool,
// null, ""), prefix, suffix, anything-but (values, prefix, suffix),
// numeric ranges, exists, equals-ignore-case, wildcard and $or. Filters
// are ORed; fields in a pattern are ANDed; values in a field's list are
// ORed; a field holding an array matches if any element does.
package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Record is what a pattern sees of a Kinesis record.
type Record struct {
	Data                        []byte
	PartitionKey                string
	SequenceNumber              string
	ApproximateArrivalTimestamp time.Time
}

// Filter is a compiled FilterCriteria: up to 10 ORed patterns.
type Filter struct {
	patterns []*pattern
	needData bool
}

// MaxPatternLen is Lambda's limit on one pattern's text (docs/semantics.md,
// "ESM parameters and defaults").
const MaxPatternLen = 4096

// Compile parses FilterCriteria.Filters[].Pattern texts. A pattern that is
// not a JSON object, or uses an unknown operator, is an error (AWS rejects
// such mappings at creation).
func Compile(patterns []string) (*Filter, error) {
	if len(patterns) > 10 {
		return nil, fmt.Errorf("%d filters: at most 10", len(patterns))
	}
	f := &Filter{}
	for i, text := range patterns {
		if len(text) > MaxPatternLen {
			return nil, fmt.Errorf("filter %d: pattern is %d characters, over %d", i, len(text), MaxPatternLen)
		}
		var raw any
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("filter %d: pattern is not JSON: %w", i, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("filter %d: trailing data after the pattern", i)
		}
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("filter %d: pattern must be a JSON object", i)
		}
		p, err := compileObject(obj)
		if err != nil {
			return nil, fmt.Errorf("filter %d: %w", i, err)
		}
		if _, ok := obj["data"]; ok {
			f.needData = true
		}
		f.patterns = append(f.patterns, p)
	}
	return f, nil
}

// Match reports whether the record matches any pattern. A record whose
// data is not JSON never matches a pattern that filters on data.
func (f *Filter) Match(r Record) bool {
	if len(f.patterns) == 0 {
		return true
	}
	doc := map[string]any{
		"partitionKey":                r.PartitionKey,
		"sequenceNumber":              r.SequenceNumber,
		"kinesisSchemaVersion":        "1.0",
		"approximateArrivalTimestamp": json.Number(strconv.FormatFloat(float64(r.ApproximateArrivalTimestamp.UnixMilli())/1000, 'f', -1, 64)),
	}
	if f.needData {
		dec := json.NewDecoder(bytes.NewReader(r.Data))
		dec.UseNumber()
		var data any
		if err := dec.Decode(&data); err == nil && !dec.More() {
			doc["data"] = data
		} else {
			doc["data"] = notJSON{}
		}
	}
	for _, p := range f.patterns {
		if p.match(doc) {
			return true
		}
	}
	return false
}

// notJSON stands for data that did not parse: no pattern matches it.
type notJSON struct{}

// pattern is one object level: every field must match, and any $or branch.
type pattern struct {
	fields map[string]field
	or     [][]*pattern // each $or is a list of alternatives
}

type field struct {
	nested   *pattern  // the pattern's value was an object
	matchers []matcher // the pattern's value was a list
}

func compileObject(obj map[string]any) (*pattern, error) {
	p := &pattern{fields: map[string]field{}}
	for k, v := range obj {
		if k == "$or" {
			alts, ok := v.([]any)
			if !ok || len(alts) < 2 {
				return nil, errors.New("$or needs a list of at least two patterns")
			}
			var branch []*pattern
			for _, a := range alts {
				o, ok := a.(map[string]any)
				if !ok {
					return nil, errors.New("$or alternatives must be objects")
				}
				sub, err := compileObject(o)
				if err != nil {
					return nil, err
				}
				branch = append(branch, sub)
			}
			p.or = append(p.or, branch)
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			sub, err := compileObject(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			p.fields[k] = field{nested: sub}
		case []any:
			if len(v) == 0 {
				return nil, fmt.Errorf("%s: empty list matches nothing", k)
			}
			var ms []matcher
			for _, item := range v {
				m, err := compileMatcher(item)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				ms = append(ms, m)
			}
			p.fields[k] = field{matchers: ms}
		default:
			return nil, fmt.Errorf("%s: a pattern value must be a list or an object, not %v", k, v)
		}
	}
	return p, nil
}

func (p *pattern) match(v any) bool {
	obj, _ := v.(map[string]any)
	for k, f := range p.fields {
		val, present := obj[k]
		if _, bad := val.(notJSON); bad {
			return false
		}
		if f.nested != nil {
			if !present || !matchNested(f.nested, val) {
				return false
			}
			continue
		}
		if !matchField(f.matchers, val, present) {
			return false
		}
	}
	for _, alts := range p.or {
		any := false
		for _, a := range alts {
			if a.match(obj) {
				any = true
				break
			}
		}
		if !any {
			return false
		}
	}
	return true
}

func matchNested(p *pattern, val any) bool {
	if arr, ok := val.([]any); ok {
		for _, e := range arr {
			if matchNested(p, e) {
				return true
			}
		}
		return false
	}
	if _, ok := val.(map[string]any); !ok {
		return false
	}
	return p.match(val)
}

func matchField(ms []matcher, val any, present bool) bool {
	for _, m := range ms {
		if m.exists != nil {
			// exists:true matches a present leaf (not an object); exists:false
			// matches an absent field.
			_, isObj := val.(map[string]any)
			if *m.exists == (present && !isObj) {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		if arr, ok := val.([]any); ok {
			for _, e := range arr {
				if m.match(e) {
					return true
				}
			}
			continue
		}
		if m.match(val) {
			return true
		}
	}
	return false
}

// matcher is one element of a field's list.
type matcher struct {
	exists *bool
	match  func(v any) bool
}

func compileMatcher(item any) (matcher, error) {
	switch it := item.(type) {
	case nil:
		return matcher{match: func(v any) bool { return v == nil }}, nil
	case string:
		return matcher{match: func(v any) bool { s, ok := v.(string); return ok && s == it }}, nil
	case bool:
		return matcher{match: func(v any) bool { b, ok := v.(bool); return ok && b == it }}, nil
	case json.Number:
		// Plain numbers compare by their text (300 ≠ 300.0, as on AWS).
		return matcher{match: func(v any) bool { n, ok := v.(json.Number); return ok && n == it }}, nil
	case map[string]any:
		if len(it) != 1 {
			return matcher{}, fmt.Errorf("an operator object must have exactly one key, has %d", len(it))
		}
		for op, arg := range it {
			return compileOperator(op, arg)
		}
	}
	return matcher{}, fmt.Errorf("unsupported pattern value %v", item)
}

func compileOperator(op string, arg any) (matcher, error) {
	switch op {
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return matcher{}, errors.New("exists takes true or false")
		}
		return matcher{exists: &b}, nil
	case "prefix", "suffix", "equals-ignore-case", "wildcard":
		f, err := stringOp(op, arg)
		if err != nil {
			return matcher{}, err
		}
		return matcher{match: func(v any) bool { s, ok := v.(string); return ok && f(s) }}, nil
	case "anything-but":
		return anythingBut(arg)
	case "numeric":
		return numeric(arg)
	case "cidr":
		return matcher{}, errors.New("cidr is not supported")
	}
	return matcher{}, fmt.Errorf("unknown operator %q", op)
}

// stringOp compiles prefix/suffix/equals-ignore-case/wildcard; prefix and
// suffix also take {"equals-ignore-case": s}.
func stringOp(op string, arg any) (func(string) bool, error) {
	fold := false
	if o, ok := arg.(map[string]any); ok && (op == "prefix" || op == "suffix") {
		v, ok := o["equals-ignore-case"]
		if !ok || len(o) != 1 {
			return nil, fmt.Errorf("%s takes a string or {\"equals-ignore-case\": string}", op)
		}
		arg, fold = v, true
	}
	s, ok := arg.(string)
	if !ok {
		return nil, fmt.Errorf("%s takes a string", op)
	}
	switch op {
	case "prefix":
		if fold {
			return func(v string) bool { return len(v) >= len(s) && strings.EqualFold(v[:len(s)], s) }, nil
		}
		return func(v string) bool { return strings.HasPrefix(v, s) }, nil
	case "suffix":
		if fold {
			return func(v string) bool { return len(v) >= len(s) && strings.EqualFold(v[len(v)-len(s):], s) }, nil
		}
		return func(v string) bool { return strings.HasSuffix(v, s) }, nil
	case "equals-ignore-case":
		return func(v string) bool { return strings.EqualFold(v, s) }, nil
	default: // wildcard
		if strings.Contains(s, "**") {
			return nil, errors.New("wildcard: consecutive * are not allowed")
		}
		return func(v string) bool { return wildcard(s, v) }, nil
	}
}

// wildcard matches v against a pattern where * matches any run of
// characters and \* a literal star.
func wildcard(pat, v string) bool {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(pat); i++ {
		switch {
		case pat[i] == '\\' && i+1 < len(pat) && (pat[i+1] == '*' || pat[i+1] == '\\'):
			cur.WriteByte(pat[i+1])
			i++
		case pat[i] == '*':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(pat[i])
		}
	}
	parts = append(parts, cur.String())
	if len(parts) == 1 {
		return v == parts[0]
	}
	if !strings.HasPrefix(v, parts[0]) {
		return false
	}
	v = v[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(v, p)
		if i < 0 {
			return false
		}
		v = v[i+len(p):]
	}
	return strings.HasSuffix(v, last)
}

func anythingBut(arg any) (matcher, error) {
	if o, ok := arg.(map[string]any); ok {
		if len(o) != 1 {
			return matcher{}, errors.New("anything-but takes one operator")
		}
		for op, a := range o {
			switch op {
			case "prefix", "suffix", "equals-ignore-case", "wildcard":
				f, err := stringOp(op, a)
				if err != nil {
					return matcher{}, err
				}
				return matcher{match: func(v any) bool { s, ok := v.(string); return ok && !f(s) }}, nil
			}
			return matcher{}, fmt.Errorf("anything-but does not take %q", op)
		}
	}
	values, ok := arg.([]any)
	if !ok {
		values = []any{arg}
	}
	var inner []matcher
	for _, v := range values {
		switch v.(type) {
		case string, json.Number:
		default:
			return matcher{}, errors.New("anything-but takes strings or numbers")
		}
		m, err := compileMatcher(v)
		if err != nil {
			return matcher{}, err
		}
		inner = append(inner, m)
	}
	return matcher{match: func(v any) bool {
		if v == nil {
			return false
		}
		for _, m := range inner {
			if m.match(v) {
				return false
			}
		}
		return true
	}}, nil
}

func numeric(arg any) (matcher, error) {
	list, ok := arg.([]any)
	if !ok || len(list) == 0 || len(list)%2 != 0 || len(list) > 4 {
		return matcher{}, errors.New("numeric takes [op, n] or [op, n, op, n]")
	}
	type cmp struct {
		op string
		n  float64
	}
	var cmps []cmp
	for i := 0; i < len(list); i += 2 {
		op, ok := list[i].(string)
		num, ok2 := list[i+1].(json.Number)
		if !ok || !ok2 {
			return matcher{}, errors.New("numeric takes [op, n] pairs")
		}
		switch op {
		case "=", "<", "<=", ">", ">=":
		default:
			return matcher{}, fmt.Errorf("numeric operator %q", op)
		}
		n, err := num.Float64()
		if err != nil || math.IsInf(n, 0) {
			return matcher{}, fmt.Errorf("numeric value %s", num)
		}
		cmps = append(cmps, cmp{op, n})
	}
	return matcher{match: func(v any) bool {
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		x, err := num.Float64()
		if err != nil {
			return false
		}
		for _, c := range cmps {
			var ok bool
			switch c.op {
			case "=":
				ok = x == c.n
			case "<":
				ok = x < c.n
			case "<=":
				ok = x <= c.n
			case ">":
				ok = x > c.n
			case ">=":
				ok = x >= c.n
			}
			if !ok {
				return false
			}
		}
		return true
	}}, nil
}
