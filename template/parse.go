package template

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options are the inputs a template cannot carry itself.
type Options struct {
	// ParameterOverrides are parameter values by name; they win over Default,
	// as `sam deploy --parameter-overrides` does. Naming a parameter the
	// template does not declare is an error, to catch typos.
	ParameterOverrides map[string]string
	// Region is AWS::Region and the region in ARNs; default us-east-1.
	Region string
	// AccountID is AWS::AccountId and the account in ARNs; default
	// 000000000000.
	AccountID string
}

const (
	defaultRegion    = "us-east-1"
	defaultAccountID = "000000000000"
	// stackName is AWS::StackName, as under `sam local`.
	stackName = "local"
	// samTransform is the transform every SAM template declares.
	samTransform = "AWS::Serverless-2016-10-31"
)

// ParseFile reads, parses, resolves and validates the template at path.
// It returns a *Errors when the template is invalid, and another error when
// the file cannot be read.
func ParseFile(path string, opts Options) (*Plan, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return Parse(path, src, opts)
}

// Parse parses, resolves and validates the template src; filename appears in
// error messages and its directory anchors relative CodeUri paths.
//
// On an invalid template it returns a nil Plan and a *Errors with every
// problem, in file order.
func Parse(filename string, src []byte, opts Options) (*Plan, error) {
	if opts.Region == "" {
		opts.Region = defaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = defaultAccountID
	}
	dir, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		return nil, fmt.Errorf("resolve template directory: %w", err)
	}
	p := &parser{
		file:  filename,
		opts:  opts,
		plan:  &Plan{TemplateDir: dir},
		res:   map[string]*resource{},
		prm:   map[string]*param{},
		conds: map[string]*condition{},
		evPos: map[string]pos{},
	}
	root, err := p.decode(src)
	if err != nil {
		return nil, err
	}
	if root != nil {
		p.template(root)
	}
	if len(p.errs) > 0 {
		return nil, &Errors{List: sortErrors(p.errs)}
	}
	p.plan.Warnings = sortErrors(p.plan.Warnings)
	return p.plan, nil
}

// parser holds the state of one Parse call.
type parser struct {
	file string
	opts Options
	plan *Plan
	errs []Error

	prm      map[string]*param
	prmOrder []string
	conds    map[string]*condition
	mappings *value
	globals  *value // Globals.Function, unresolved
	res      map[string]*resource
	resOrder []string
	// evPos locates each event (function/event) for warnings after reading.
	evPos map[string]pos
}

func (p *parser) errorf(at pos, format string, args ...any) {
	p.errs = append(p.errs, Error{File: p.file, Line: at.line, Col: at.col, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(at pos, format string, args ...any) {
	p.plan.Warnings = append(p.plan.Warnings, Error{File: p.file, Line: at.line, Col: at.col, Msg: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decode parses YAML into a value tree. Syntax errors come back as *Errors
// so that callers see one error type; yaml.v3 reports only a line, so the
// column is a best guess.
func (p *parser) decode(src []byte) (root *value, err error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if derr := safeDecode(dec, &doc); derr != nil {
		if errors.Is(derr, errEOF) {
			p.errorf(pos{1, 1}, "template is empty")
			return nil, &Errors{List: p.errs}
		}
		line, col, msg := 1, 1, derr.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
			if isParserProblem(msg) {
				// yaml.v3 adds 1 to 0-based lines for scanner errors only;
				// parser errors come out one line early.
				line++
			}
			col = guessColumn(src, line, msg)
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		p.errorf(pos{line, col}, "invalid YAML: %s", msg)
		return nil, &Errors{List: p.errs}
	}
	var extra yaml.Node
	if safeDecode(dec, &extra) == nil {
		// CloudFormation reads one document; a second is a pasting mistake.
		p.errorf(pos{extra.Line, extra.Column}, "a template must be a single YAML document")
	}
	c := &converter{p: p}
	root = c.convert(&doc, 0)
	if root.kind != kMap {
		if root.kind != kInvalid {
			p.errorf(root.pos, "template must be a mapping, got %s", root.describe())
		}
		return nil, &Errors{List: sortErrors(p.errs)}
	}
	return root, nil
}

var errEOF = errors.New("empty document")

// safeDecode runs the YAML decoder, converting a panic inside the library
// into an error: a template is untrusted input and must never crash the
// process that validates it.
func safeDecode(dec *yaml.Decoder, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	err = dec.Decode(doc)
	if err != nil && err.Error() == "EOF" {
		return errEOF
	}
	return err
}

// isParserProblem reports whether msg is one of yaml.v3's parser (not
// scanner) errors, whose line numbers are 0-based.
func isParserProblem(msg string) bool {
	for _, p := range []string{"did not find expected ',' or", "did not find expected <document start>",
		"did not find expected '-' indicator", "did not find expected key", "did not find expected node content",
		"found duplicate %", "found incompatible YAML document", "found undefined tag handle"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// guessColumn points at the first tab on the line for tab errors (the most
// common YAML mistake), else at the first non-blank character.
func guessColumn(src []byte, line int, msg string) int {
	lines := bytes.Split(src, []byte("\n"))
	if line < 1 || line > len(lines) {
		return 1
	}
	l := lines[line-1]
	if strings.Contains(msg, "cannot start any token") {
		if i := bytes.IndexByte(l, '\t'); i >= 0 {
			return i + 1
		}
	}
	for i, b := range l {
		if b != ' ' && b != '\t' {
			return i + 1
		}
	}
	return 1
}

var topLevelKeys = []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules",
	"Mappings", "Conditions", "Transform", "Globals", "Resources", "Outputs"}

// template reads the sections in dependency order: Parameters and Conditions
// before anything that can reference them, Globals before functions.
func (p *parser) template(root *value) {
	for _, e := range root.entries {
		if !contains(topLevelKeys, e.key) {
			p.errorf(e.keyPos, "unknown top-level section %s%s", e.key, suggest(e.key, topLevelKeys))
		}
	}
	if e := root.get("AWSTemplateFormatVersion"); e != nil && (e.val.kind != kScalar || e.val.str != "2010-09-09") {
		p.errorf(e.val.pos, "AWSTemplateFormatVersion must be \"2010-09-09\"")
	}
	p.parameters(root.get("Parameters"))
	if e := root.get("Mappings"); e != nil {
		if e.val.kind != kMap {
			p.errorf(e.val.pos, "Mappings must be a mapping, got %s", e.val.describe())
		} else {
			p.mappings = e.val
		}
	}
	p.conditions(root.get("Conditions"))
	p.transform(root)
	p.readGlobals(root.get("Globals"))
	p.resources(root.get("Resources"))
	p.outputs(root.get("Outputs"))
}

func (p *parser) transform(root *value) {
	e := root.get("Transform")
	serverless := root.get("Globals") != nil
	if r := root.get("Resources"); r != nil {
		for _, re := range r.val.entries {
			if t := re.val.get("Type"); t != nil && strings.HasPrefix(t.val.str, "AWS::Serverless::") {
				serverless = true
			}
		}
	}
	if e == nil {
		if serverless {
			p.errorf(pos{1, 1}, "missing Transform: %s (needed for AWS::Serverless resources and Globals)", samTransform)
		}
		return
	}
	var names []*value
	switch e.val.kind {
	case kScalar:
		names = []*value{e.val}
	case kList:
		names = e.val.items
	default:
		p.errorf(e.val.pos, "Transform must be a string or a list, got %s", e.val.describe())
		return
	}
	found := false
	for _, n := range names {
		switch {
		case n.kind == kScalar && n.str == samTransform:
			found = true
		case n.kind == kScalar:
			p.errorf(n.pos, "unsupported transform %s: Sluice implements only %s", n.str, samTransform)
		default:
			p.errorf(n.pos, "Transform entries must be strings, got %s", n.describe())
		}
	}
	if !found && serverless {
		p.errorf(e.keyPos, "Transform must include %s", samTransform)
	}
}

func (p *parser) outputs(e *entry) {
	if e == nil {
		return
	}
	if e.val.kind != kMap {
		p.errorf(e.val.pos, "Outputs must be a mapping, got %s", e.val.describe())
		return
	}
	// Outputs are not part of the plan, but resolving them reports broken
	// references before `sam deploy` would.
	for _, o := range e.val.entries {
		path := "Outputs." + o.key
		if o.val.kind != kMap {
			p.errorf(o.val.pos, "%s must be a mapping, got %s", path, o.val.describe())
			continue
		}
		ob := p.object(o.val, o.keyPos, path, []string{"Description", "Value", "Export", "Condition"})
		if c := ob.get("Condition"); c != nil {
			if on, ok := p.conditionNamed(c.val); !ok || !on {
				continue
			}
		}
		ob.resolvedAny("Value", true)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strconv.Quote(s)
}
