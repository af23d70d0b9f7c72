package firehose

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"

	"github.com/itchyny/gojq"
	"github.com/valyala/fastjson"

	"github.com/sluice-dev/sluice/sinks/firehose/internal/fastparse"
)

// This file turns a record into partition keys (docs/semantics.md,
// "Dynamic partitioning"): the
// MetadataExtraction JQ query for partitionKeyFromQuery, the producing
// function's keys for partitionKeyFromLambda.

// Error output types and codes for records that cannot be partitioned.
// activePartitionExceeded is documented (docs/semantics.md, "Dynamic
// partitioning"); the others are not, and are named here in one place so they
// are easy to align once verified against AWS.
const (
	ErrTypeActivePartitionExceeded = "activePartitionExceeded"
	ErrTypeMetadataExtraction      = "metadataExtractionFailed"
	ErrTypePrefixEvaluation        = "prefixEvaluationFailed"

	codeMetadataExtraction = "DynamicPartitioning.MetadataExtractionFailed"
	codePrefixEvaluation   = "DynamicPartitioning.PrefixEvaluationFailed"
	codeActivePartitions   = "DynamicPartitioning.ActivePartitionsLimitExceeded"
)

// recordError says why a record goes to the error output.
type recordError struct {
	Type, Code, Message string
}

// keyQuery is a compiled MetadataExtractionQuery. Queries that are an
// object of plain paths ({event_type: .event_type, hour: .x.y}, what
// templates use) also get a direct form that reads the keys from a
// fastjson value without decoding the record into Go values; anything
// else, and any record the direct form cannot answer exactly as gojq
// would, runs through gojq.
type keyQuery struct {
	code *gojq.Code
	fast []keyPath // nil: not a plain object of paths
}

// keyPath is one "name: .a.b" of a plain query.
type keyPath struct {
	name string
	path []string
}

func compileQuery(q string) (*keyQuery, error) {
	parsed, err := gojq.Parse(q)
	if err != nil {
		return nil, invalidf("MetadataExtractionQuery is not a valid JQ expression: %v", err)
	}
	code, err := gojq.Compile(parsed)
	if err != nil {
		return nil, invalidf("MetadataExtractionQuery is not a valid JQ expression: %v", err)
	}
	return &keyQuery{code: code, fast: plainPaths(parsed)}, nil
}

// plainPaths returns the paths of a query that is one object whose values
// are .a.b... paths with distinct literal keys, or nil.
func plainPaths(q *gojq.Query) []keyPath {
	if q.Meta != nil || len(q.Imports) > 0 || len(q.FuncDefs) > 0 || q.Left != nil || q.Right != nil ||
		len(q.Patterns) > 0 || q.Op != 0 || q.Term == nil {
		return nil
	}
	t := q.Term
	if t.Type != gojq.TermTypeObject || t.Object == nil || len(t.SuffixList) > 0 || len(t.Object.KeyVals) == 0 {
		return nil
	}
	var out []keyPath
	seen := map[string]bool{}
	for _, kv := range t.Object.KeyVals {
		var kp keyPath
		switch {
		case kv.KeyQuery != nil:
			return nil
		case kv.Key != "":
			if kv.Key[0] == '$' { // {$x} and {$__loc__} are variables
				return nil
			}
			kp.name = kv.Key
		case kv.KeyString != nil && len(kv.KeyString.Queries) == 0 && kv.Val != nil:
			kp.name = kv.KeyString.Str
		default:
			return nil
		}
		if kv.Val == nil {
			kp.path = []string{kp.name} // {k} is {k: .k}
		} else if kp.path = plainPath(kv.Val); kp.path == nil {
			return nil
		}
		if seen[kp.name] {
			return nil
		}
		seen[kp.name] = true
		out = append(out, kp)
	}
	return out
}

// plainPath returns the keys of a query that is exactly .a.b... (or
// ."a".b), or nil.
func plainPath(q *gojq.Query) []string {
	if q.Meta != nil || len(q.Imports) > 0 || len(q.FuncDefs) > 0 || q.Left != nil || q.Right != nil ||
		len(q.Patterns) > 0 || q.Op != 0 || q.Term == nil {
		return nil
	}
	t := q.Term
	if t.Type != gojq.TermTypeIndex || t.Index == nil {
		return nil
	}
	name := func(ix *gojq.Index) (string, bool) {
		if ix == nil || ix.Start != nil || ix.End != nil || ix.IsSlice {
			return "", false
		}
		if ix.Name != "" {
			return ix.Name, true
		}
		if ix.Str != nil && len(ix.Str.Queries) == 0 {
			return ix.Str.Str, true
		}
		return "", false
	}
	first, ok := name(t.Index)
	if !ok {
		return nil
	}
	path := []string{first}
	for _, s := range t.SuffixList {
		if s.Iter || s.Optional {
			return nil
		}
		k, ok := name(s.Index)
		if !ok {
			return nil
		}
		path = append(path, k)
	}
	return path
}

// lastGet is o[key] with encoding/json's rule for duplicate keys (the
// last one wins), which fastjson's Get (the first one) does not follow.
func lastGet(o *fastjson.Object, key string) *fastjson.Value {
	var found *fastjson.Value
	o.Visit(func(k []byte, v *fastjson.Value) {
		if string(k) == key {
			found = v
		}
	})
	return found
}

// numbersFit reports whether every number in v is a float64, as
// encoding/json needs to decode the record into interface{} values (a
// number out of range, 1e400, fails the whole record there). Number texts
// are copied to scratch's spare room (heap memory the caller already has:
// MarshalTo makes any buffer escape); scratch comes back as it went in,
// with perhaps more capacity.
func numbersFit(v *fastjson.Value, scratch []byte) ([]byte, bool) {
	switch v.Type() {
	case fastjson.TypeNumber:
		n0 := len(scratch)
		scratch = v.MarshalTo(scratch)
		raw := scratch[n0:]
		if len(raw) < 300 && bytes.IndexAny(raw, "eE") < 0 {
			return scratch[:n0], true // at most 10^300: in range
		}
		_, err := strconv.ParseFloat(fastparse.UnsafeString(raw), 64)
		return scratch[:n0], err == nil
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, x := range a {
			var ok bool
			if scratch, ok = numbersFit(x, scratch); !ok {
				return scratch, false
			}
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		ok := true
		o.Visit(func(_ []byte, x *fastjson.Value) {
			if ok {
				scratch, ok = numbersFit(x, scratch)
			}
		})
		return scratch, ok
	}
	return scratch, true
}

// extractKeys runs the query on one JSON record and returns the values of
// the wanted keys. Values that are strings are used as they are; numbers
// and booleans become their JSON text; null, a missing key, arrays and
// objects fail the record (AWS does not document how non-strings render).
func extractKeys(ctx context.Context, q *keyQuery, data []byte, want []string) (map[string]string, *recordError) {
	if q.fast == nil {
		return extractKeysJQ(ctx, q.code, data, want)
	}
	p := fastparse.Pool.Get()
	defer fastparse.Pool.Put(p)
	return extractKeysParsed(ctx, q, fastparse.Record(p, data), data, want)
}

// extractKeysParsed is extractKeys on a record already parsed by
// fastparse.Record (v is nil when it was not).
func extractKeysParsed(ctx context.Context, q *keyQuery, v *fastjson.Value, data []byte, want []string) (map[string]string, *recordError) {
	if v != nil && q.fast != nil {
		if keys, ok := q.direct(v, want); ok {
			return keys, nil
		}
	}
	return extractKeysJQ(ctx, q.code, data, want)
}

// direct evaluates a plain query on a parsed record. It answers only when
// the answer is a set of keys; every error (a path through a non-object,
// a null or missing key, an object value, ...) returns false so that gojq
// words it.
func (q *keyQuery) direct(v *fastjson.Value, want []string) (map[string]string, bool) {
	tuple, ok := q.appendDirect(nil, v, want)
	if !ok {
		return nil, false
	}
	return splitTuple(tuple, want), true
}

// appendDirect is direct appending the wanted values to dst as a tuple:
// each value's length (uvarint) and bytes, in want's order.
func (q *keyQuery) appendDirect(dst []byte, v *fastjson.Value, want []string) ([]byte, bool) {
	root, err := v.Object()
	if err != nil {
		return dst, false
	}
	dst, fit := numbersFit(v, dst)
	if !fit {
		return dst, false
	}
	var vals [8]*fastjson.Value // queries name few keys: no allocation
	if len(q.fast) > len(vals) {
		return dst, false
	}
	for i, kp := range q.fast {
		cur := lastGet(root, kp.path[0])
		for _, k := range kp.path[1:] {
			if cur == nil || cur.Type() == fastjson.TypeNull {
				cur = nil // .a.b on a null .a is null
				break
			}
			o, err := cur.Object()
			if err != nil {
				return dst, false // gojq: expected an object
			}
			cur = lastGet(o, k)
		}
		vals[i] = cur
	}
	var num [32]byte
	for _, k := range want {
		i := 0
		for i < len(q.fast) && q.fast[i].name != k {
			i++
		}
		if i == len(q.fast) || vals[i] == nil {
			return dst, false
		}
		var val []byte
		switch x := vals[i]; x.Type() {
		case fastjson.TypeString:
			val = x.GetStringBytes()
		case fastjson.TypeNumber:
			// The text goes to dst's spare room, which is on the heap
			// already: a stack buffer passed to ParseFloat would escape.
			n0 := len(dst)
			dst = x.MarshalTo(dst)
			f, err := strconv.ParseFloat(fastparse.UnsafeString(dst[n0:]), 64)
			dst = dst[:n0]
			if err != nil {
				return dst, false
			}
			val = appendJQNumber(num[:0], f)
		case fastjson.TypeTrue:
			val = []byte("true")
		case fastjson.TypeFalse:
			val = []byte("false")
		default:
			return dst, false
		}
		dst = binary.AppendUvarint(dst, uint64(len(val)))
		dst = append(dst, val...)
	}
	return dst, true
}

// splitTuple turns a tuple of appendDirect back into keys.
func splitTuple(tuple []byte, want []string) map[string]string {
	keys := make(map[string]string, len(want))
	for _, k := range want {
		n, w := binary.Uvarint(tuple)
		keys[k] = string(tuple[w : w+int(n)])
		tuple = tuple[w+int(n):]
	}
	return keys
}

// appendJQNumber renders a number as gojq.Marshal does a float64 (jq 1.6,
// which Firehose runs, holds every number as a double).
func appendJQNumber(b []byte, f float64) []byte {
	if math.IsNaN(f) {
		return append(b, "null"...)
	}
	f = min(max(f, -math.MaxFloat64), math.MaxFloat64)
	format := byte('f')
	if x := math.Abs(f); x != 0 && x < 1e-6 || x >= 1e21 {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9, as gojq writes it
		if n := len(b) - start; n >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b
}

// extractKeysJQ is the reference: the record decoded by encoding/json and
// the query run by gojq.
func extractKeysJQ(ctx context.Context, code *gojq.Code, data []byte, want []string) (map[string]string, *recordError) {
	fail := func(format string, args ...any) (map[string]string, *recordError) {
		return nil, &recordError{Type: ErrTypeMetadataExtraction, Code: codeMetadataExtraction, Message: fmt.Sprintf(format, args...)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// No UseNumber: jq 1.6, which Firehose runs, holds every number as a
	// double, so 1.0 renders "1" and big integers lose precision there too.
	var v any
	if err := dec.Decode(&v); err != nil {
		return fail("Non JSON record provided")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail("Non JSON record provided")
	}
	iter := code.RunWithContext(ctx, v)
	out, ok := iter.Next()
	if !ok {
		return fail("MetadataExtractionQuery produced no output")
	}
	if err, isErr := out.(error); isErr {
		return fail("MetadataExtractionQuery failed: %v", err)
	}
	obj, ok := out.(map[string]any)
	if !ok {
		return fail("MetadataExtractionQuery must produce an object, got %s", gojq.TypeOf(out))
	}
	keys := make(map[string]string, len(want))
	for _, k := range want {
		val, ok := obj[k]
		if !ok || val == nil {
			return fail("partition key %q not found in the MetadataExtractionQuery output", k)
		}
		switch x := val.(type) {
		case string:
			keys[k] = x
		case bool, int, float64, *big.Int, json.Number:
			b, err := gojq.Marshal(x)
			if err != nil {
				return fail("partition key %q: %v", k, err)
			}
			keys[k] = string(b)
		default:
			return fail("partition key %q is %s, want a string, number or boolean", k, gojq.TypeOf(val))
		}
	}
	return keys, nil
}
