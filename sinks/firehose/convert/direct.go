package convert

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/valyala/fastjson"

	"github.com/sluice-dev/sluice/sinks/firehose/internal/fastparse"
)

// This file is the direct JSON → Parquet row conversion: values are read
// from a fastjson parse of the record, without reflection or Go maps, and
// written straight into the row. It answers only the records it converts
// exactly as rowJSON (the encoding/json reference in convert.go) would;
// anything else (an error to word, a case it does not handle) goes to
// rowJSON, so rows and error messages are the reference's.

// Scratch is reused across records by one goroutine.
type Scratch struct {
	vals []*fastjson.Value // per column: the record's value, nil if absent
	key  []byte            // a normalised JSON key
	slab []byte            // string bytes the row's values point into
	row  parquet.Row       // a row that is only checked, never kept
}

// keep copies b into the slab and returns the copy: the row outlives the
// parser's buffer, so it must not point into it.
func (sc *Scratch) keep(b []byte) []byte {
	n := len(sc.slab)
	sc.slab = append(sc.slab, b...)
	return sc.slab[n:len(sc.slab):len(sc.slab)]
}

// Check converts a record parsed by fastparse.Record (v nil when it was
// not) only to tell whether it converts: the error says why not. The row
// is not kept, so its strings reuse the scratch memory.
func (cv *Converter) Check(v *fastjson.Value, data []byte, sc *Scratch) error {
	sc.slab = sc.slab[:0]
	row, err := cv.rowParsed(sc.row, v, data, sc)
	if err != nil {
		return err
	}
	sc.row = row // reused by the next record
	return nil
}

// rowParsed converts a record parsed by fastparse.Record (v nil when it
// was not) into a row appended to buf, with string values in sc.slab.
func (cv *Converter) rowParsed(buf parquet.Row, v *fastjson.Value, data []byte, sc *Scratch) (parquet.Row, error) {
	if v != nil {
		if row, ok := cv.rowDirect(buf, v, sc); ok {
			return row, nil
		}
	}
	return cv.rowJSON(buf, data)
}

func (cv *Converter) rowDirect(buf parquet.Row, v *fastjson.Value, sc *Scratch) (parquet.Row, bool) {
	o, err := v.Object()
	if err != nil {
		return nil, false
	}
	if cap(sc.vals) < len(cv.cols) {
		sc.vals = make([]*fastjson.Value, len(cv.cols))
	}
	vals := sc.vals[:len(cv.cols)]
	clear(vals)
	// Later duplicates overwrite earlier ones, as in encoding/json's map.
	o.Visit(func(k []byte, x *fastjson.Value) {
		for _, i := range cv.byKey[string(cv.fastKey(k, sc))] {
			vals[i] = x
		}
	})
	row := buf[:0]
	if cap(row) < len(cv.cols) {
		row = make(parquet.Row, 0, len(cv.cols))
	}
	row = row[:len(cv.cols)]
	for i, c := range cv.cols {
		pv, ok := cv.valueDirect(c, vals[i], sc)
		if !ok {
			return nil, false
		}
		row[c.index] = pv.Level(0, defLevel(pv), c.index)
	}
	return row, true
}

// fastKey is normKey without allocating for ASCII keys.
func (cv *Converter) fastKey(k []byte, sc *Scratch) []byte {
	lower := cv.hive || !cv.cfg.CaseSensitive
	dots := !cv.hive && cv.cfg.ConvertDotsInJSONKeysToUnderscores
	if !lower && !dots {
		return k
	}
	sc.key = sc.key[:0]
	for _, b := range k {
		switch {
		case b >= 0x80:
			return []byte(cv.normKey(string(k))) // strings.ToLower's Unicode rules
		case lower && 'A' <= b && b <= 'Z':
			b += 'a' - 'A'
		case dots && b == '.':
			b = '_'
		}
		sc.key = append(sc.key, b)
	}
	return sc.key
}

var (
	trueBytes  = []byte("true")
	falseBytes = []byte("false")
)

// valueDirect is value() on a fastjson value; false means "ask value()".
func (cv *Converter) valueDirect(c convCol, x *fastjson.Value, sc *Scratch) (parquet.Value, bool) {
	if x == nil || x.Type() == fastjson.TypeNull {
		return parquet.NullValue(), true
	}
	t := x.Type()
	switch c.kind {
	case kString:
		switch t {
		case fastjson.TypeString:
			return parquet.ByteArrayValue(sc.keep(x.GetStringBytes())), true
		case fastjson.TypeNumber:
			n := len(sc.slab)
			sc.slab = x.MarshalTo(sc.slab) // a number's text as written
			return parquet.ByteArrayValue(sc.slab[n:len(sc.slab):len(sc.slab)]), true
		case fastjson.TypeTrue:
			return parquet.ByteArrayValue(sc.keep(trueBytes)), true
		case fastjson.TypeFalse:
			return parquet.ByteArrayValue(sc.keep(falseBytes)), true
		}
		if cv.hive {
			return parquet.Value{}, false
		}
		// A nested object or array is stored as encoding/json writes the
		// decoded value (sorted keys, HTML escapes); rare, so not direct.
		b, err := json.Marshal(toAny(x))
		if err != nil {
			return parquet.Value{}, false
		}
		return parquet.ByteArrayValue(b), true
	case kInt8, kInt16, kInt32, kInt64:
		s, ok := cv.numberTextDirect(x, sc)
		if !ok {
			return parquet.Value{}, false
		}
		n, err := strconv.ParseInt(s, 10, intBits[c.kind])
		if err != nil {
			return parquet.Value{}, false
		}
		if c.kind == kInt64 {
			return parquet.Int64Value(n), true
		}
		return parquet.Int32Value(int32(n)), true
	case kFloat, kDouble:
		s, ok := cv.numberTextDirect(x, sc)
		if !ok {
			return parquet.Value{}, false
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return parquet.Value{}, false
		}
		if c.kind == kFloat {
			return parquet.FloatValue(float32(f)), true
		}
		return parquet.DoubleValue(f), true
	case kBool:
		switch t {
		case fastjson.TypeTrue:
			return parquet.BooleanValue(true), true
		case fastjson.TypeFalse:
			return parquet.BooleanValue(false), true
		case fastjson.TypeString:
			if !cv.hive {
				// ASCII folding is strings.ToLower here: no other rune
				// lowers to a letter of "true" or "false".
				switch s := x.GetStringBytes(); {
				case asciiEqualFold(s, "true"):
					return parquet.BooleanValue(true), true
				case asciiEqualFold(s, "false"):
					return parquet.BooleanValue(false), true
				}
			}
		}
		return parquet.Value{}, false
	case kTimestamp:
		var ts time.Time
		var err error
		switch t {
		case fastjson.TypeString:
			ts, err = cv.timestampString(fastparse.UnsafeString(x.GetStringBytes()))
		case fastjson.TypeNumber:
			sc.key = x.MarshalTo(sc.key[:0])
			ts, err = cv.timestampNumber(json.Number(fastparse.UnsafeString(sc.key)))
		default:
			return parquet.Value{}, false
		}
		if err != nil {
			return parquet.Value{}, false
		}
		return parquet.Int64Value(ts.UnixMilli()), true
	case kDate:
		if t != fastjson.TypeString {
			return parquet.Value{}, false
		}
		d, err := time.Parse("2006-01-02", fastparse.UnsafeString(x.GetStringBytes()))
		if err != nil {
			return parquet.Value{}, false
		}
		return parquet.Int32Value(int32(d.Unix() / 86400)), true
	}
	return parquet.Value{}, false
}

// numberTextDirect is numberText: a number's text, or (OpenX) a string's
// trimmed text. The result is valid until the next use of sc.key.
func (cv *Converter) numberTextDirect(x *fastjson.Value, sc *Scratch) (string, bool) {
	switch x.Type() {
	case fastjson.TypeNumber:
		sc.key = x.MarshalTo(sc.key[:0])
		return fastparse.UnsafeString(sc.key), true
	case fastjson.TypeString:
		if !cv.hive {
			return strings.TrimSpace(fastparse.UnsafeString(x.GetStringBytes())), true
		}
	}
	return "", false
}

func asciiEqualFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// toAny is what encoding/json with UseNumber decodes v into.
func toAny(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len())
		o.Visit(func(k []byte, x *fastjson.Value) { m[string(k)] = toAny(x) })
		return m
	case fastjson.TypeArray:
		a, _ := v.Array()
		out := make([]any, len(a))
		for i, x := range a {
			out[i] = toAny(x)
		}
		return out
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeNumber:
		return json.Number(v.MarshalTo(nil))
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	return nil
}
