package template

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// intrinsicNames are the functions resolve knows, for "did you mean" hints.
var intrinsicNames = []string{"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split",
	"Fn::If", "Fn::FindInMap", "Fn::Base64", "Fn::GetAZs", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"}

// unresolvable are real CloudFormation functions whose value exists only in a
// deployed account, or needs a transform Sluice does not implement.
var unresolvable = []string{"Fn::ImportValue", "Fn::Cidr", "Fn::Transform", "Fn::Length",
	"Fn::ToJsonString", "Fn::ForEach", "Fn::GetStackOutput"}

// shallow resolves v only if v itself is an intrinsic, so that an object
// written as !If [...] can be read like a literal mapping while its children
// stay lazily resolved (and unread children cause no errors).
func (p *parser) shallow(v *value) *value {
	if _, ok := v.intrinsic(); ok {
		return p.resolve(v)
	}
	return v
}

// resolve replaces every intrinsic in v by its value. It returns nil for
// AWS::NoValue (the caller drops the key or item) and invalid after
// reporting an error.
func (p *parser) resolve(v *value) *value { return p.resolveAt(v, 0) }

func (p *parser) resolveAt(v *value, depth int) *value {
	if v == nil {
		return nil
	}
	if depth > maxDepth {
		p.errorf(v.pos, "intrinsic functions nested too deeply")
		return invalid
	}
	switch v.kind {
	case kMap:
		if fn, ok := v.intrinsic(); ok {
			return p.call(fn, v.entries[0].val, v.pos, depth+1)
		}
		out := &value{kind: kMap, pos: v.pos}
		for _, e := range v.entries {
			r := p.resolveAt(e.val, depth+1)
			if r == nil {
				continue
			}
			out.entries = append(out.entries, entry{key: e.key, keyPos: e.keyPos, val: r})
		}
		return out
	case kList:
		out := &value{kind: kList, pos: v.pos}
		for _, it := range v.items {
			r := p.resolveAt(it, depth+1)
			if r == nil {
				continue
			}
			out.items = append(out.items, r)
		}
		return out
	}
	return v
}

// args resolves the list argument of fn and checks its length.
func (p *parser) args(fn string, arg *value, at pos, n int, depth int) []*value {
	if arg.kind != kList || len(arg.items) != n {
		got := arg.describe()
		if arg.kind == kList {
			got = "a list of " + strconv.Itoa(len(arg.items))
		}
		p.errorf(at, "%s takes a list of %d arguments, got %s", fn, n, got)
		return nil
	}
	return arg.items
}

// scalarArg resolves v and requires a scalar.
func (p *parser) scalarArg(fn string, v *value, depth int) (string, bool) {
	r := p.resolveAt(v, depth)
	switch {
	case r == nil:
		p.errorf(v.pos, "%s: argument resolves to AWS::NoValue", fn)
	case r.kind == kInvalid:
	case r.kind == kScalar:
		return r.str, true
	default:
		p.errorf(r.pos, "%s: argument must be a string, got %s", fn, r.describe())
	}
	return "", false
}

func (p *parser) call(fn string, arg *value, at pos, depth int) *value {
	switch fn {
	case "Ref":
		if arg.kind != kScalar {
			p.errorf(at, "Ref takes a logical ID or parameter name, got %s", arg.describe())
			return invalid
		}
		return p.ref(arg.str, "Ref "+arg.str, at)
	case "Fn::GetAtt":
		var id, attr string
		switch {
		case arg.kind == kScalar:
			var ok bool
			if id, attr, ok = strings.Cut(arg.str, "."); !ok {
				p.errorf(at, "Fn::GetAtt takes LogicalId.Attribute, got %s", quote(arg.str))
				return invalid
			}
		case arg.kind == kList && len(arg.items) == 2:
			var ok1, ok2 bool
			id, ok1 = p.scalarArg(fn, arg.items[0], depth)
			attr, ok2 = p.scalarArg(fn, arg.items[1], depth)
			if !ok1 || !ok2 {
				return invalid
			}
		default:
			p.errorf(at, "Fn::GetAtt takes LogicalId.Attribute or [LogicalId, Attribute], got %s", arg.describe())
			return invalid
		}
		return p.getAtt(id, attr, at)
	case "Fn::Sub":
		return p.sub(arg, at, depth)
	case "Fn::Join":
		a := p.args(fn, arg, at, 2, depth)
		if a == nil {
			return invalid
		}
		delim, ok := p.scalarArg(fn, a[0], depth)
		list := p.listArg(fn, a[1], depth)
		if !ok || list == nil {
			return invalid
		}
		parts := make([]string, 0, len(list.items))
		for _, it := range list.items {
			if it.kind == kInvalid {
				return invalid
			}
			if it.kind != kScalar {
				p.errorf(it.pos, "Fn::Join: list items must be strings, got %s", it.describe())
				return invalid
			}
			parts = append(parts, it.str)
		}
		return scalar(strings.Join(parts, delim), at)
	case "Fn::Select":
		a := p.args(fn, arg, at, 2, depth)
		if a == nil {
			return invalid
		}
		idx, ok := p.scalarArg(fn, a[0], depth)
		list := p.listArg(fn, a[1], depth)
		if !ok || list == nil {
			return invalid
		}
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= len(list.items) {
			p.errorf(at, "Fn::Select: index %s out of range for a list of %d", quote(idx), len(list.items))
			return invalid
		}
		return list.items[i]
	case "Fn::Split":
		a := p.args(fn, arg, at, 2, depth)
		if a == nil {
			return invalid
		}
		delim, ok1 := p.scalarArg(fn, a[0], depth)
		s, ok2 := p.scalarArg(fn, a[1], depth)
		if !ok1 || !ok2 {
			return invalid
		}
		if delim == "" {
			p.errorf(at, "Fn::Split: delimiter must not be empty")
			return invalid
		}
		out := &value{kind: kList, pos: at}
		for _, part := range strings.Split(s, delim) {
			out.items = append(out.items, scalar(part, at))
		}
		return out
	case "Fn::If":
		a := p.args(fn, arg, at, 3, depth)
		if a == nil {
			return invalid
		}
		on, ok := p.conditionNamed(a[0])
		if !ok {
			return invalid
		}
		if on {
			return p.resolveAt(a[1], depth)
		}
		return p.resolveAt(a[2], depth)
	case "Fn::FindInMap":
		if arg.kind != kList || len(arg.items) != 3 {
			p.errorf(at, "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey], got %s", arg.describe())
			return invalid
		}
		var keys [3]string
		for i, it := range arg.items {
			s, ok := p.scalarArg(fn, it, depth)
			if !ok {
				return invalid
			}
			keys[i] = s
		}
		return p.findInMap(keys, at)
	case "Fn::Base64":
		s, ok := p.scalarArg(fn, arg, depth)
		if !ok {
			return invalid
		}
		return scalar(base64.StdEncoding.EncodeToString([]byte(s)), at)
	case "Fn::GetAZs":
		r, ok := p.scalarArg(fn, arg, depth)
		if !ok {
			return invalid
		}
		if r == "" {
			r = p.opts.Region
		}
		// Three zones, named as AWS names them; nothing local depends on them.
		out := &value{kind: kList, pos: at}
		for _, z := range []string{"a", "b", "c"} {
			out.items = append(out.items, scalar(r+z, at))
		}
		return out
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		p.errorf(at, "%s can only be used in the Conditions section", fn)
		return invalid
	}
	if contains(unresolvable, fn) {
		p.errorf(at, "%s cannot be resolved by Sluice", fn)
		return invalid
	}
	p.errorf(at, "unknown intrinsic function %s%s", fn, suggest(fn, intrinsicNames))
	return invalid
}

// listArg resolves v and requires a list.
func (p *parser) listArg(fn string, v *value, depth int) *value {
	r := p.resolveAt(v, depth)
	switch {
	case r == nil:
		p.errorf(v.pos, "%s: argument resolves to AWS::NoValue", fn)
	case r.kind == kInvalid:
	case r.kind == kList:
		return r
	default:
		p.errorf(r.pos, "%s: argument must be a list, got %s", fn, r.describe())
	}
	return nil
}

func (p *parser) findInMap(keys [3]string, at pos) *value {
	if p.mappings == nil {
		p.errorf(at, "Fn::FindInMap: the template has no Mappings section")
		return invalid
	}
	m := p.mappings
	for i, k := range keys {
		e := m.get(k)
		if e == nil {
			var names []string
			for _, x := range m.entries {
				names = append(names, x.key)
			}
			p.errorf(at, "Fn::FindInMap: no key %s in %s%s", quote(k), strings.Join(append([]string{"Mappings"}, keys[:i]...), "."), suggest(k, names))
			return invalid
		}
		m = e.val
	}
	return m
}

// sub implements Fn::Sub: ${Name} is a variable, parameter, pseudo parameter
// or resource Ref; ${X.Attr} a GetAtt; ${!Text} the literal ${Text}.
func (p *parser) sub(arg *value, at pos, depth int) *value {
	var tmpl *value
	vars := map[string]*value{}
	switch {
	case arg.kind == kScalar:
		tmpl = arg
	case arg.kind == kList && len(arg.items) == 2 && arg.items[0].kind == kScalar && arg.items[1].kind == kMap:
		tmpl = arg.items[0]
		for _, e := range arg.items[1].entries {
			vars[e.key] = e.val
		}
	default:
		p.errorf(at, "Fn::Sub takes a string or [string, {Var: value}], got %s", arg.describe())
		return invalid
	}
	s, ok := tmpl.str, true
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i+2:]
		if strings.HasPrefix(s, "!") {
			b.WriteString("${")
			s = s[1:]
			continue
		}
		j := strings.IndexByte(s, '}')
		if j < 0 {
			p.errorf(at, "Fn::Sub: unterminated ${ in %s", quote(tmpl.str))
			return invalid
		}
		name := strings.TrimSpace(s[:j])
		s = s[j+1:]
		var r *value
		if v, isVar := vars[name]; isVar {
			r = p.resolveAt(v, depth)
		} else if id, attr, dot := strings.Cut(name, "."); dot {
			r = p.getAtt(id, attr, at)
		} else {
			r = p.ref(name, "Fn::Sub ${"+name+"}", at)
		}
		switch {
		case r == nil:
			p.errorf(at, "Fn::Sub: ${%s} resolves to AWS::NoValue", name)
			ok = false
		case r.kind == kInvalid:
			ok = false
		case r.kind != kScalar:
			p.errorf(at, "Fn::Sub: ${%s} must resolve to a string, got %s", name, r.describe())
			ok = false
		default:
			b.WriteString(r.str)
		}
	}
	if !ok {
		return invalid
	}
	return scalar(b.String(), at)
}

// partition is the ARN partition of the configured region.
func (p *parser) partition() string {
	switch {
	case strings.HasPrefix(p.opts.Region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(p.opts.Region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

var pseudoParams = []string{"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
	"AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}

// ref resolves a Ref to name; what names the reference in errors.
func (p *parser) ref(name, what string, at pos) *value {
	switch name {
	case "AWS::NoValue":
		return nil
	case "AWS::Region":
		return scalar(p.opts.Region, at)
	case "AWS::AccountId":
		return scalar(p.opts.AccountID, at)
	case "AWS::Partition":
		return scalar(p.partition(), at)
	case "AWS::StackName":
		return scalar(stackName, at)
	case "AWS::StackId":
		return scalar("arn:"+p.partition()+":cloudformation:"+p.opts.Region+":"+p.opts.AccountID+
			":stack/"+stackName+"/00000000-0000-0000-0000-000000000000", at)
	case "AWS::URLSuffix":
		if p.partition() == "aws-cn" {
			return scalar("amazonaws.com.cn", at)
		}
		return scalar("amazonaws.com", at)
	case "AWS::NotificationARNs":
		return &value{kind: kList, pos: at}
	}
	if prm := p.prm[name]; prm != nil {
		if !prm.ok {
			return invalid // reported where the parameter is declared
		}
		if prm.list {
			out := &value{kind: kList, pos: at}
			for _, s := range prm.items {
				out.items = append(out.items, scalar(s, at))
			}
			return out
		}
		return scalar(prm.value, at)
	}
	if r := p.res[name]; r != nil {
		if !p.usable(r, at) {
			return invalid
		}
		if _, ok := p.physicalName(r); !ok {
			return invalid // the name's own error is already reported
		}
		v := scalar(p.refValue(r, at), at)
		v.origin = r.id
		return v
	}
	names := append(append([]string{}, p.prmOrder...), p.resOrder...)
	p.errorf(at, "%s: no parameter or resource named %s%s", what, name, suggest(name, append(names, pseudoParams...)))
	return invalid
}

// usable reports whether r exists in this deployment, reporting a reference
// to a resource that its condition leaves out, as CloudFormation would.
func (p *parser) usable(r *resource, at pos) bool {
	if !r.enabled {
		if r.condOK {
			p.errorf(at, "%s is not created because its condition %s is false", r.id, r.cond)
		}
		return false
	}
	return true
}

func (p *parser) getAtt(id, attr string, at pos) *value {
	r := p.res[id]
	if r == nil {
		p.errorf(at, "GetAtt %s.%s: no resource %s%s", id, attr, id, suggest(id, p.resOrder))
		return invalid
	}
	if !p.usable(r, at) {
		return invalid
	}
	s, ok := p.attrValue(r, attr, at)
	if !ok {
		return invalid
	}
	v := scalar(s, at)
	v.origin, v.attr = r.id, attr
	return v
}
