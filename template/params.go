package template

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// param is a declared parameter and its value for this parse.
type param struct {
	name  string
	value string
	items []string // for list types
	list  bool
	ok    bool
}

func (*param) isListType(typ string) bool {
	return typ == "CommaDelimitedList" || typ == "List<Number>"
}

var paramKeys = []string{"Type", "Default", "AllowedValues", "AllowedPattern", "MinLength", "MaxLength",
	"MinValue", "MaxValue", "NoEcho", "Description", "ConstraintDescription"}

var paramTypes = []string{"String", "Number", "CommaDelimitedList", "List<Number>"}

// parameters reads the Parameters section. A value comes from
// Options.ParameterOverrides, else Default; a parameter with neither is an
// error, rather than SAM's silent blanking, so a missing setting fails
// before anything runs.
func (p *parser) parameters(e *entry) {
	over := p.opts.ParameterOverrides
	if e != nil && e.val.kind != kMap {
		p.errorf(e.val.pos, "Parameters must be a mapping, got %s", e.val.describe())
	} else if e != nil {
		for _, pe := range e.val.entries {
			p.prmOrder = append(p.prmOrder, pe.key)
			prm := &param{name: pe.key}
			p.prm[pe.key] = prm
			p.parameter(prm, pe, over)
		}
	}
	// Overrides naming no parameter are typos more often than not.
	var unknown []string
	for k := range over {
		if p.prm[k] == nil {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		p.errorf(pos{}, "parameter override %s: the template declares no such parameter%s", k, suggest(k, p.prmOrder))
	}
}

func (p *parser) parameter(prm *param, pe entry, over map[string]string) {
	path := "Parameters." + pe.key
	if !logicalID.MatchString(pe.key) {
		p.errorf(pe.keyPos, "%s: parameter names must be alphanumeric", path)
		return
	}
	if pe.val.kind != kMap {
		p.errorf(pe.val.pos, "%s must be a mapping, got %s", path, pe.val.describe())
		return
	}
	// Parameter declarations are literal: CloudFormation resolves no
	// intrinsics here, so read the raw values.
	o := &object{p: p, v: pe.val, path: path, at: pe.keyPos}
	o.checkKeys(paramKeys)
	typ, _, ok := o.literal("Type", true)
	if !ok {
		return
	}
	switch {
	case contains(paramTypes, typ):
	case strings.HasPrefix(typ, "AWS::SSM::"):
		p.errorf(o.get("Type").val.pos, "%s: SSM parameter types cannot be resolved by Sluice; use String", path)
		return
	case strings.HasPrefix(typ, "List<AWS::"):
		typ = "CommaDelimitedList"
	case strings.HasPrefix(typ, "AWS::"):
		// AWS-specific types (AWS::EC2::KeyPair::KeyName, ...) are strings
		// whose existence AWS checks; nothing local to check.
		typ = "String"
	default:
		p.errorf(o.get("Type").val.pos, "%s.Type: unsupported parameter type %s%s", path, quote(typ), suggest(typ, paramTypes))
		return
	}
	val, at, from := "", pe.keyPos, "value"
	if s, isSet := over[pe.key]; isSet {
		val, from = s, "override"
	} else if d := o.get("Default"); d != nil {
		if d.val.kind == kList && prm.isListType(typ) {
			// CloudFormation wants "a,b", not a YAML list, even for list types.
			p.errorf(d.val.pos, "%s.Default must be a comma-delimited string, got a list", path)
			return
		}
		if d.val.kind != kScalar {
			p.errorf(d.val.pos, "%s.Default must be a string, got %s", path, d.val.describe())
			return
		}
		val, at, from = d.val.str, d.val.pos, "Default"
	} else {
		p.errorf(pe.keyPos, "parameter %s has no value: give it a Default or pass an override", pe.key)
		return
	}
	prm.value = val
	items := []string{val}
	if prm.isListType(typ) {
		prm.list = true
		items = strings.Split(val, ",")
		for i := range items {
			items[i] = strings.TrimSpace(items[i])
		}
		prm.items = items
	}
	bad := func(format string, args ...any) {
		p.errorf(at, "%s: %s %s "+format, append([]any{path, from, quote(val)}, args...)...)
	}
	if typ == "Number" || typ == "List<Number>" {
		for _, it := range items {
			if _, err := strconv.ParseFloat(it, 64); err != nil {
				bad("is not a number")
				return
			}
		}
	}
	if av := o.get("AllowedValues"); av != nil {
		if av.val.kind != kList {
			p.errorf(av.val.pos, "%s.AllowedValues must be a list, got %s", path, av.val.describe())
			return
		}
		var allowed []string
		for _, it := range av.val.items {
			allowed = append(allowed, it.str)
		}
		for _, it := range items {
			if !contains(allowed, it) {
				bad("is not one of AllowedValues [%s]", strings.Join(allowed, ", "))
				return
			}
		}
	}
	if pat, ppos, has := o.literal("AllowedPattern", false); has {
		re, err := regexp.Compile("^(?:" + pat + ")$")
		if err != nil {
			p.errorf(ppos, "%s.AllowedPattern: invalid regular expression: %v", path, err)
			return
		}
		for _, it := range items {
			if !re.MatchString(it) {
				bad("does not match AllowedPattern %s", quote(pat))
				return
			}
		}
	}
	for _, lim := range []struct {
		key  string
		less bool
	}{{"MinLength", true}, {"MaxLength", false}, {"MinValue", true}, {"MaxValue", false}} {
		s, lpos, has := o.literal(lim.key, false)
		if !has {
			continue
		}
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			p.errorf(lpos, "%s.%s must be a number, got %s", path, lim.key, quote(s))
			return
		}
		for _, it := range items {
			x := float64(len(it))
			if strings.HasSuffix(lim.key, "Value") {
				x, _ = strconv.ParseFloat(it, 64)
			}
			if lim.less && x < n || !lim.less && x > n {
				bad("violates %s %s", lim.key, s)
				return
			}
		}
	}
	prm.ok = true
}

// condition is a named entry of the Conditions section, evaluated once on
// first use.
type condition struct {
	expr   *value
	keyPos pos
	state  int // 0 new, 1 evaluating, 2 done
	val    bool
	ok     bool
}

func (p *parser) conditions(e *entry) {
	if e == nil {
		return
	}
	if e.val.kind != kMap {
		p.errorf(e.val.pos, "Conditions must be a mapping, got %s", e.val.describe())
		return
	}
	for _, ce := range e.val.entries {
		p.conds[ce.key] = &condition{expr: ce.val, keyPos: ce.keyPos}
	}
	// Evaluate all, so a broken unused condition is reported as CloudFormation
	// would report it.
	for _, ce := range e.val.entries {
		p.evalNamed(ce.key, ce.keyPos)
	}
}

// conditionNamed evaluates a condition reference: the first argument of
// Fn::If or a resource's Condition attribute.
func (p *parser) conditionNamed(v *value) (bool, bool) {
	if v.kind != kScalar {
		p.errorf(v.pos, "a condition name must be a string, got %s", v.describe())
		return false, false
	}
	return p.evalNamed(v.str, v.pos)
}

func (p *parser) evalNamed(name string, at pos) (bool, bool) {
	c := p.conds[name]
	if c == nil {
		var names []string
		for k := range p.conds {
			names = append(names, k)
		}
		slices.Sort(names)
		p.errorf(at, "no condition named %s%s", name, suggest(name, names))
		return false, false
	}
	switch c.state {
	case 1:
		p.errorf(c.keyPos, "condition %s refers to itself", name)
		return false, false
	case 2:
		return c.val, c.ok
	}
	c.state = 1
	c.val, c.ok = p.evalCond(c.expr, 0)
	c.state = 2
	return c.val, c.ok
}

// evalCond evaluates a condition expression: Fn::Equals, Fn::Not, Fn::And,
// Fn::Or or {Condition: Name}.
func (p *parser) evalCond(v *value, depth int) (bool, bool) {
	if depth > maxDepth {
		p.errorf(v.pos, "condition nested too deeply")
		return false, false
	}
	if v.kind == kMap && len(v.entries) == 1 && v.entries[0].key == "Condition" {
		return p.conditionNamed(v.entries[0].val)
	}
	fn, isFn := v.intrinsic()
	if !isFn {
		p.errorf(v.pos, "a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition, got %s", v.describe())
		return false, false
	}
	arg := v.entries[0].val
	switch fn {
	case "Fn::Equals":
		a := p.args(fn, arg, v.pos, 2, depth)
		if a == nil {
			return false, false
		}
		x, y := p.resolveAt(a[0], depth+1), p.resolveAt(a[1], depth+1)
		if x == nil || y == nil || x.kind == kInvalid || y.kind == kInvalid {
			return false, false
		}
		return canonical(x) == canonical(y), true
	case "Fn::Not":
		if arg.kind != kList || len(arg.items) != 1 {
			p.errorf(v.pos, "Fn::Not takes a list of one condition, got %s", arg.describe())
			return false, false
		}
		b, ok := p.evalCond(arg.items[0], depth+1)
		return !b, ok
	case "Fn::And", "Fn::Or":
		if arg.kind != kList || len(arg.items) < 2 || len(arg.items) > 10 {
			p.errorf(v.pos, "%s takes a list of 2 to 10 conditions, got %s", fn, arg.describe())
			return false, false
		}
		and := fn == "Fn::And"
		res, allOK := and, true
		for _, it := range arg.items {
			b, ok := p.evalCond(it, depth+1)
			allOK = allOK && ok
			if and {
				res = res && b
			} else {
				res = res || b
			}
		}
		return res, allOK
	}
	p.errorf(v.pos, "%s is not a condition function (use Fn::Equals, Fn::Not, Fn::And or Fn::Or)", fn)
	return false, false
}

// canonical renders a resolved value for Fn::Equals.
func canonical(v *value) string {
	switch v.kind {
	case kScalar:
		return v.str
	case kList:
		parts := make([]string, len(v.items))
		for i, it := range v.items {
			parts[i] = canonical(it)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case kMap:
		parts := make([]string, len(v.entries))
		for i, e := range v.entries {
			parts[i] = e.key + ":" + canonical(e.val)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	return ""
}
