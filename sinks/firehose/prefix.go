package firehose

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is the S3 prefix expression language (docs/semantics.md,
// "Firehose S3 prefix expressions"):
// literal text with !{namespace:value} expressions.

// Expression namespaces and firehose values.
const (
	nsTimestamp       = "timestamp"
	nsFirehose        = "firehose"
	nsPartitionQuery  = "partitionKeyFromQuery"
	nsPartitionLambda = "partitionKeyFromLambda"
	fhRandomString    = "random-string"
	fhErrorOutputType = "error-output-type"
)

// defaultTimePattern is what a missing or literal Prefix gets
// (docs/semantics.md, "Firehose S3 object names" and "Firehose S3 prefix
// expressions").
const defaultTimePattern = "yyyy/MM/dd/HH/"

// maxEvaluatedPrefix is the longest evaluated prefix Firehose accepts.
const maxEvaluatedPrefix = 512

type segKind uint8

const (
	segLiteral segKind = iota
	segTimestamp
	segRandom
	segErrorType
	segQueryKey
	segLambdaKey
)

type segment struct {
	kind segKind
	text string      // literal text, or the partition key name
	tf   *timeFormat // for segTimestamp
}

// Prefix is a parsed prefix expression.
type Prefix struct {
	src  string
	segs []segment
}

// ParsePrefix parses a Prefix or ErrorOutputPrefix. It enforces the
// syntax ("!{" only starts a valid expression; namespaces,
// firehose values and timestamp patterns must be known); which namespaces
// are allowed where is Config.Validate's business.
func ParsePrefix(s string) (*Prefix, error) {
	p := &Prefix{src: s}
	rest := s
	for {
		i := strings.Index(rest, "!{")
		if i < 0 {
			p.lit(rest)
			return p, nil
		}
		p.lit(rest[:i])
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated expression %q: missing }", rest[i:])
		}
		expr := rest[i+2 : i+end]
		seg, err := parseExpr(expr)
		if err != nil {
			return nil, fmt.Errorf("invalid expression !{%s}: %w", expr, err)
		}
		p.segs = append(p.segs, seg)
		rest = rest[i+end+1:]
	}
}

func (p *Prefix) lit(s string) {
	if s == "" {
		return
	}
	if n := len(p.segs); n > 0 && p.segs[n-1].kind == segLiteral {
		p.segs[n-1].text += s
		return
	}
	p.segs = append(p.segs, segment{kind: segLiteral, text: s})
}

func parseExpr(expr string) (segment, error) {
	ns, val, ok := strings.Cut(expr, ":")
	if !ok {
		return segment{}, errors.New("want namespace:value")
	}
	switch ns {
	case nsTimestamp:
		tf, err := compileTimeFormat(val)
		if err != nil {
			return segment{}, err
		}
		return segment{kind: segTimestamp, tf: tf, text: val}, nil
	case nsFirehose:
		switch val {
		case fhRandomString:
			return segment{kind: segRandom}, nil
		case fhErrorOutputType:
			return segment{kind: segErrorType}, nil
		}
		return segment{}, fmt.Errorf("unknown firehose value %q (want %s or %s)", val, fhRandomString, fhErrorOutputType)
	case nsPartitionQuery, nsPartitionLambda:
		if err := checkKeyName(val); err != nil {
			return segment{}, err
		}
		k := segQueryKey
		if ns == nsPartitionLambda {
			k = segLambdaKey
		}
		return segment{kind: k, text: val}, nil
	}
	return segment{}, fmt.Errorf("unknown namespace %q", ns)
}

func checkKeyName(k string) error {
	if k == "" {
		return errors.New("empty partition key name")
	}
	if !utf8.ValidString(k) {
		return errors.New("partition key name is not valid UTF-8")
	}
	for _, r := range k {
		if r <= ' ' || r == 0x7f || r == '{' || r == '!' {
			return fmt.Errorf("partition key name %q contains %q", k, r)
		}
	}
	return nil
}

// String returns the source text.
func (p *Prefix) String() string { return p.src }

func (p *Prefix) has(k segKind) bool {
	for _, s := range p.segs {
		if s.kind == k {
			return true
		}
	}
	return false
}

// isLiteral reports whether the prefix holds no expressions.
func (p *Prefix) isLiteral() bool {
	return len(p.segs) == 0 || (len(p.segs) == 1 && p.segs[0].kind == segLiteral)
}

// keys returns the partition key names of kind k, in order of appearance,
// without duplicates.
func (p *Prefix) keys(k segKind) []string {
	var out []string
	for _, s := range p.segs {
		if s.kind == k && !contains(out, s.text) {
			out = append(out, s.text)
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// withDefaultTime applies the default-time rule as observed on AWS
// (docs/semantics.md, "Firehose S3 prefix expressions"): an empty or literal
// prefix gets yyyy/MM/dd/HH/ appended by plain concatenation; a prefix
// with any expression is used as written.
func (p *Prefix) withDefaultTime() *Prefix {
	if !p.isLiteral() {
		return p
	}
	tf, _ := compileTimeFormat(defaultTimePattern)
	q := &Prefix{src: p.src + "!{timestamp:" + defaultTimePattern + "}"}
	q.segs = append(append(q.segs, p.segs...), segment{kind: segTimestamp, tf: tf, text: defaultTimePattern})
	return q
}

// renderInput is what a prefix is evaluated against.
type renderInput struct {
	// Time is the arrival time of the oldest record in the object, already
	// in the stream's time zone; every timestamp expression uses it.
	Time time.Time
	// Query and Lambda are the partition keys.
	Query, Lambda map[string]string
	// ErrorType renders !{firehose:error-output-type}.
	ErrorType string
	// Random returns the n-th random string of the object. Objects derive
	// it from their identity so that a replay renders the same key.
	Random func(n int) string
}

// errMissingKey reports a partition key the record does not carry.
type errMissingKey struct{ ns, key string }

func (e errMissingKey) Error() string {
	return fmt.Sprintf("partition key %q (%s) not found", e.key, e.ns)
}

// subSecond reports whether the prefix formats a time field finer than the
// second (fraction, nano-of-second, nano- or milli-of-day): otherwise its
// rendering is the same for every instant of one second.
func (p *Prefix) subSecond() bool {
	for _, s := range p.segs {
		if s.kind != segTimestamp || s.tf == nil {
			continue
		}
		for _, it := range s.tf.items {
			switch it.letter {
			case 'S', 'n', 'N', 'A':
				return true
			}
		}
	}
	return false
}

// render evaluates the prefix and checks its length. Partition key values
// are escaped so they stay one path segment (see escapeValue).
func (p *Prefix) render(in renderInput) (string, error) {
	s, err := p.eval(in)
	if err == nil {
		err = checkPrefixLength(utf8.RuneCountInString(s))
	}
	if err != nil {
		return "", err
	}
	return s, nil
}

// checkPrefixLength is rule 6 on an evaluated prefix of n characters.
// Characters, as AWS words the rule, not bytes: a value of 300 "é" is 300
// characters. Whether Firehose counts code points (as here) or UTF-16
// units is unverified; they differ only beyond the BMP. A prefix within
// the limit can still make a key longer than S3's 1,024 bytes; routing
// checks that separately (checkKeyLength).
func checkPrefixLength(n int) error {
	if n > maxEvaluatedPrefix {
		return fmt.Errorf("evaluated prefix is %d characters, longer than %d", n, maxEvaluatedPrefix)
	}
	return nil
}

// randomStringLen is the length of a !{firehose:random-string}.
const randomStringLen = 11

// check tells whether the prefix evaluated for in passes rule 6 and makes,
// with an object name of nameLen bytes, a key S3 takes, without building
// the prefix: routing checks each record this way, and the prefix is
// rendered once per object, when its flush is decided (objectKey). Random
// strings count randomStringLen characters; in.Random is not called.
func (p *Prefix) check(in renderInput, nameLen int) error {
	chars, size, valid := 0, 0, true
	add := func(s string) {
		chars += utf8.RuneCountInString(s)
		size += len(s)
		valid = valid && utf8.ValidString(s)
	}
	var missing error
	for _, s := range p.segs {
		switch s.kind {
		case segLiteral:
			add(s.text)
		case segTimestamp:
			add(s.tf.format(in.Time))
		case segRandom:
			chars += randomStringLen
			size += randomStringLen
		case segErrorType:
			add(in.ErrorType)
		case segQueryKey, segLambdaKey:
			m, ns := in.Query, nsPartitionQuery
			if s.kind == segLambdaKey {
				m, ns = in.Lambda, nsPartitionLambda
			}
			v, ok := m[s.text]
			if !ok && missing == nil {
				missing = errMissingKey{ns, s.text}
			}
			add(escapeValue(v))
		}
	}
	if missing != nil {
		return missing
	}
	if !valid {
		// Pieces that are not UTF-8 on their own could still join into
		// UTF-8 (a literal and a pattern's quoted text, both from the
		// configuration): judge the whole prefix, as S3 would.
		in.Random = func(int) string { return strings.Repeat("x", randomStringLen) }
		pfx, err := p.render(in)
		if err != nil {
			return err
		}
		return checkObjectKey(pfx, nameLen)
	}
	if err := checkPrefixLength(chars); err != nil {
		return err
	}
	return checkKeyLength(size, nameLen)
}

// renderUnchecked evaluates the prefix without the length limit; a missing
// key renders empty.
func (p *Prefix) renderUnchecked(in renderInput) string {
	s, _ := p.eval(in)
	return s
}

func (p *Prefix) eval(in renderInput) (string, error) {
	var b strings.Builder
	var first error
	nrand := 0
	for _, s := range p.segs {
		switch s.kind {
		case segLiteral:
			b.WriteString(s.text)
		case segTimestamp:
			b.WriteString(s.tf.format(in.Time))
		case segRandom:
			if in.Random != nil {
				b.WriteString(in.Random(nrand))
			}
			nrand++
		case segErrorType:
			b.WriteString(in.ErrorType)
		case segQueryKey, segLambdaKey:
			m, ns := in.Query, nsPartitionQuery
			if s.kind == segLambdaKey {
				m, ns = in.Lambda, nsPartitionLambda
			}
			v, ok := m[s.text]
			if !ok && first == nil {
				first = errMissingKey{ns, s.text}
			}
			b.WriteString(escapeValue(v))
		}
	}
	return b.String(), first
}

// escapeValue percent-encodes the bytes of a partition key value that
// could make it leave its place in the key: '/', '\\', control characters,
// '%' itself (so the encoding is reversible) and invalid UTF-8; a value of
// "." or ".." is encoded whole. Firehose writes values verbatim; Sluice
// deviates only where verbatim would let a record choose another folder,
// or a file outside the bucket on a local destination.
func escapeValue(v string) string {
	if v == "." || v == ".." {
		return strings.Repeat("%2E", len(v))
	}
	need := false
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '%' || c >= 0x80 {
			need = true
			break
		}
	}
	if !need {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x80 {
			r, n := utf8.DecodeRuneInString(v[i:])
			if r != utf8.RuneError || n > 1 {
				b.WriteString(v[i : i+n]) // valid UTF-8 is fine in S3 keys
				i += n
				continue
			}
		}
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '%' || c >= 0x80 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
		i++
	}
	return b.String()
}
