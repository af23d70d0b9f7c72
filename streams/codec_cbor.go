package streams

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// cborCodec is AWS CBOR 1.1 (Content-Type application/x-amz-cbor-1.1), the
// default of the Java SDKs and the KCL (docs/semantics.md, "Kinesis wire
// protocol"). Members are the JSON protocol's, blobs are CBOR byte strings and
// timestamps are epoch milliseconds as integers.
//
// The wire is decoded into a generic tree by fxamacker/cbor and then
// assigned to the SDK input struct by reflection (members matched by name,
// case-insensitively, like encoding/json), because SDK inputs carry no cbor
// tags and their timestamps need Kinesis' millisecond reading, not CBOR's
// seconds.
type cborCodec struct{}

const cborContentType = "application/x-amz-cbor-1.1"

func (cborCodec) contentType() string { return cborContentType }

// cborMaxDepth bounds nesting: Kinesis inputs are at most four levels
// deep, and a hostile body must not make the decoder recurse far.
const cborMaxDepth = 16

var (
	cborDec = func() cbor.DecMode {
		m, err := cbor.DecOptions{
			DefaultMapType:   reflect.TypeFor[map[string]any](),
			MaxNestedLevels:  cborMaxDepth,
			MaxArrayElements: 1 << 16,
			MaxMapPairs:      1 << 16,
			DupMapKey:        cbor.DupMapKeyEnforcedAPF,
			IntDec:           cbor.IntDecConvertNone,
		}.DecMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
	cborEnc = func() cbor.EncMode {
		m, err := cbor.EncOptions{}.EncMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
)

func (cborCodec) decode(body []byte, in any) error {
	if len(body) == 0 {
		return nil
	}
	var tree any
	if err := cborDec.Unmarshal(body, &tree); err != nil {
		return fmt.Errorf("cbor: %w", err)
	}
	if tree == nil {
		return nil
	}
	return assign(reflect.ValueOf(in).Elem(), tree, "")
}

func (cborCodec) encode(dst []byte, out any) ([]byte, error) {
	tree, err := toTree(reflect.ValueOf(out))
	if err != nil {
		return dst, err
	}
	b, err := cborEnc.Marshal(tree)
	if err != nil {
		return dst, fmt.Errorf("cbor encode: %w", err)
	}
	return append(dst, b...), nil
}

func (cborCodec) encodeError(dst []byte, code, message string) []byte {
	// Text strings must be UTF-8 in CBOR; a message may quote input.
	b, _ := cborEnc.Marshal(map[string]string{"__type": strings.ToValidUTF8(code, "\uFFFD"), "message": strings.ToValidUTF8(message, "\uFFFD")})
	return append(dst, b...)
}

// fieldIndex maps a struct type's lower-cased member names to field
// indexes, built once per type.
var fieldIndex sync.Map // reflect.Type -> map[string]int

func fieldsOf(t reflect.Type) map[string]int {
	if m, ok := fieldIndex.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.IsExported() && f.Name != "ResultMetadata" {
			m[strings.ToLower(f.Name)] = i
		}
	}
	fieldIndex.Store(t, m)
	return m
}

var errCBORType = errors.New("wrong type")

// assign stores the decoded CBOR item src into dst, converting as the AWS
// CBOR protocol does. path names the member for error messages.
func assign(dst reflect.Value, src any, path string) error {
	if src == nil {
		return nil // null or undefined: the member stays unset
	}
	bad := func() error {
		return fmt.Errorf("member %s: %w: cannot store CBOR %T in %s", strings.TrimPrefix(path, "."), errCBORType, src, dst.Type())
	}
	switch dst.Kind() {
	case reflect.Pointer:
		v := reflect.New(dst.Type().Elem())
		if err := assign(v.Elem(), src, path); err != nil {
			return err
		}
		dst.Set(v)
		return nil
	case reflect.Struct:
		if dst.Type() == timeType {
			t, ok := cborTime(src)
			if !ok {
				return bad()
			}
			dst.Set(reflect.ValueOf(t))
			return nil
		}
		m, ok := src.(map[string]any)
		if !ok {
			return bad()
		}
		fields := fieldsOf(dst.Type())
		for k, v := range m {
			i, ok := fields[strings.ToLower(k)]
			if !ok {
				continue // unknown members are ignored, as in JSON
			}
			if err := assign(dst.Field(i), v, path+"."+k); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if dst.Type().Elem().Kind() == reflect.Uint8 {
			switch b := src.(type) {
			case []byte:
				dst.SetBytes(b)
			case string:
				// A client that sent the blob as text (JSON habits):
				// accept base64 as the JSON protocol would.
				d, err := base64.StdEncoding.DecodeString(b)
				if err != nil {
					return bad()
				}
				dst.SetBytes(d)
			default:
				return bad()
			}
			return nil
		}
		a, ok := src.([]any)
		if !ok {
			return bad()
		}
		s := reflect.MakeSlice(dst.Type(), len(a), len(a))
		for i, x := range a {
			if err := assign(s.Index(i), x, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		dst.Set(s)
		return nil
	case reflect.Map:
		m, ok := src.(map[string]any)
		if !ok || dst.Type().Key().Kind() != reflect.String {
			return bad()
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		for k, x := range m {
			v := reflect.New(dst.Type().Elem()).Elem()
			if err := assign(v, x, path+"."+k); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), v)
		}
		dst.Set(out)
		return nil
	case reflect.String:
		s, ok := src.(string)
		if !ok {
			return bad()
		}
		dst.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := src.(bool)
		if !ok {
			return bad()
		}
		dst.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := cborInt(src)
		if !ok || dst.OverflowInt(n) {
			return bad()
		}
		dst.SetInt(n)
		return nil
	case reflect.Float32, reflect.Float64:
		switch x := src.(type) {
		case float64:
			dst.SetFloat(x)
		case int64:
			dst.SetFloat(float64(x))
		case uint64:
			dst.SetFloat(float64(x))
		default:
			return bad()
		}
		return nil
	case reflect.Interface:
		return nil // documents and unions: no Kinesis input carries one
	}
	return bad()
}

func cborInt(src any) (int64, bool) {
	switch x := src.(type) {
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// millisYear is the year past which a tag-1 time read as seconds must have
// been milliseconds: the Java SDK v2 writes tag 1 around an epoch-millis
// integer, while RFC 8949 says seconds.
const millisYear = 5000

// cborTime reads a timestamp member: an integer is epoch milliseconds (AWS
// CBOR), a float epoch seconds, a tag-1 time either (see millisYear), a
// string ISO 8601 or decimal seconds.
func cborTime(src any) (time.Time, bool) {
	switch x := src.(type) {
	case int64:
		return time.UnixMilli(x), true
	case uint64:
		if x > math.MaxInt64 {
			return time.Time{}, false
		}
		return time.UnixMilli(int64(x)), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1e15 {
			return time.Time{}, false
		}
		return floatTime(x), true
	case time.Time:
		if x.Year() > millisYear {
			return time.UnixMilli(x.Unix()), true
		}
		return x, true
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) < 1e15 {
			return floatTime(f), true
		}
		t, err := time.Parse(time.RFC3339Nano, x)
		return t, err == nil
	}
	return time.Time{}, false
}

// toTree turns an SDK output struct into the generic tree the CBOR encoder
// writes, with the JSON encoder's rules: members by field name, unset
// members omitted, ResultMetadata skipped; times become epoch millis.
func toTree(v reflect.Value) (any, error) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		return toTree(v.Elem())
	case reflect.Struct:
		if v.Type() == timeType {
			return v.Interface().(time.Time).UnixMilli(), nil
		}
		m := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" || omit(v.Field(i)) {
				continue
			}
			x, err := toTree(v.Field(i))
			if err != nil {
				return nil, err
			}
			m[f.Name] = x
		}
		return m, nil
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Bytes(), nil
		}
		a := make([]any, v.Len())
		for i := range a {
			x, err := toTree(v.Index(i))
			if err != nil {
				return nil, err
			}
			a[i] = x
		}
		return a, nil
	case reflect.Map:
		m := make(map[string]any, v.Len())
		for _, k := range v.MapKeys() {
			x, err := toTree(v.MapIndex(k))
			if err != nil {
				return nil, err
			}
			m[k.String()] = x
		}
		return m, nil
	case reflect.String:
		return strings.ToValidUTF8(v.String(), "\uFFFD"), nil
	case reflect.Bool:
		return v.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint(), nil
	case reflect.Float32, reflect.Float64:
		return v.Float(), nil
	}
	return nil, fmt.Errorf("encode %s: unsupported kind", v.Type())
}
