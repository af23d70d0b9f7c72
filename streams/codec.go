package streams

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// codec turns request bodies into SDK input structs and SDK output structs
// into response bodies: JSON 1.1 (jsonCodec) or CBOR 1.1 (cborCodec, the Java
// SDK and KCL default; docs/semantics.md, "Kinesis wire protocol"), chosen by
// the request's Content-Type.
type codec interface {
	contentType() string
	// decode fills in (a pointer to an SDK input struct) from body.
	decode(body []byte, in any) error
	// encode appends the wire form of out (a pointer to an SDK output
	// struct) to dst.
	encode(dst []byte, out any) ([]byte, error)
	encodeError(dst []byte, code, message string) []byte
}

type jsonCodec struct{}

func (jsonCodec) contentType() string { return "application/x-amz-json-1.1" }

// decode uses encoding/json: SDK input fields are exported with the wire's
// member names (matched case-insensitively), blobs are base64 []byte. The
// one mismatch, timestamps as epoch seconds, is handled by decoding those
// inputs through a struct whose own timestamp field shadows the SDK's.
//
// Text that is not Unicode (bytes that are not UTF-8, lone surrogate
// escapes) is refused, not replaced (jsonUnicodeProblem), and an error's
// text is capped: encoding/json quotes a number it cannot store in full.
func (c jsonCodec) decode(body []byte, in any) error {
	err := c.decodeJSON(body, in)
	if err != nil && len(err.Error()) > maxQuoted {
		return errors.New(capQuoted(err.Error()))
	}
	return err
}

func (jsonCodec) decodeJSON(body []byte, in any) error {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if x, ok := in.(*kinesis.PutRecordsInput); ok {
		return decodePutRecordsJSON(body, x)
	}
	if msg := jsonUnicodeProblem(body); msg != "" {
		return errors.New(msg)
	}
	switch x := in.(type) {
	case *kinesis.GetShardIteratorInput:
		aux := struct {
			*kinesis.GetShardIteratorInput
			Timestamp *epochTime
		}{GetShardIteratorInput: x}
		if err := json.Unmarshal(body, &aux); err != nil {
			return err
		}
		x.Timestamp = aux.Timestamp.ptr()
		return nil
	case *kinesis.SubscribeToShardInput:
		type position struct {
			*types.StartingPosition
			Timestamp *epochTime
		}
		aux := struct {
			*kinesis.SubscribeToShardInput
			StartingPosition *position
		}{SubscribeToShardInput: x}
		if err := json.Unmarshal(body, &aux); err != nil {
			return err
		}
		if aux.StartingPosition != nil {
			x.StartingPosition = &types.StartingPosition{}
			if aux.StartingPosition.StartingPosition != nil {
				*x.StartingPosition = *aux.StartingPosition.StartingPosition
			}
			x.StartingPosition.Timestamp = aux.StartingPosition.Timestamp.ptr()
		}
		return nil
	case *kinesis.ListShardsInput:
		type filter struct {
			*types.ShardFilter
			Timestamp *epochTime
		}
		aux := struct {
			*kinesis.ListShardsInput
			StreamCreationTimestamp *epochTime
			ShardFilter             *filter
		}{ListShardsInput: x}
		if err := json.Unmarshal(body, &aux); err != nil {
			return err
		}
		x.StreamCreationTimestamp = aux.StreamCreationTimestamp.ptr()
		if aux.ShardFilter != nil {
			x.ShardFilter = &types.ShardFilter{}
			if aux.ShardFilter.ShardFilter != nil {
				*x.ShardFilter = *aux.ShardFilter.ShardFilter
			}
			x.ShardFilter.Timestamp = aux.ShardFilter.Timestamp.ptr()
		}
		return nil
	}
	return json.Unmarshal(body, in)
}

func (jsonCodec) encodeError(dst []byte, code, message string) []byte {
	dst = append(dst, `{"__type":`...)
	dst = strconv.AppendQuote(dst, code)
	if code == "SerializationException" {
		// The service's deserializer names the member "Message", and
		// often says nothing.
		if message == "" {
			return append(dst, '}')
		}
		dst = append(dst, `,"Message":`...)
		dst = appendJSONString(dst, message)
		return append(dst, '}')
	}
	if message == "" {
		return append(dst, '}')
	}
	dst = append(dst, `,"message":`...)
	dst = appendJSONString(dst, message)
	return append(dst, '}')
}

// encode writes an SDK output struct as AWS JSON: members by field name,
// nil pointers, nil collections and empty enums omitted, timestamps as
// epoch seconds with a millisecond fraction, blobs base64, and the SDK's
// ResultMetadata skipped. Reflection keeps every operation's output in one
// place; GetRecords, the large one, is the candidate for a hand-written
// encoder if profiles show it.
func (jsonCodec) encode(dst []byte, out any) ([]byte, error) {
	return appendJSONValue(dst, reflect.ValueOf(out))
}

var timeType = reflect.TypeFor[time.Time]()

var (
	recordsType    = reflect.TypeFor[[]types.Record]()
	putResultsType = reflect.TypeFor[[]types.PutRecordsResultEntry]()
)

func appendJSONValue(dst []byte, v reflect.Value) ([]byte, error) {
	if v.Type() == recordsType && !v.IsNil() {
		// GetRecords' and SubscribeToShard's bulk: up to 10,000 records.
		return appendRecordsJSON(dst, v.Interface().([]types.Record)), nil
	}
	if v.Type() == putResultsType && !v.IsNil() {
		// PutRecords' answer: up to 500 entries, the hottest response.
		return appendPutResultsJSON(dst, v.Interface().([]types.PutRecordsResultEntry)), nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		return appendJSONValue(dst, v.Elem())
	case reflect.Struct:
		if v.Type() == timeType {
			return appendEpoch(dst, v.Interface().(time.Time)), nil
		}
		dst = append(dst, '{')
		first := true
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			fv := v.Field(i)
			if omit(fv) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = strconv.AppendQuote(dst, f.Name)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSONValue(dst, fv); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, v.Bytes())
			return append(dst, '"'), nil
		}
		dst = append(dst, '[')
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSONValue(dst, v.Index(i)); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case reflect.Map:
		dst = append(dst, '{')
		for i, k := range v.MapKeys() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k.String())
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSONValue(dst, v.MapIndex(k)); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case reflect.String:
		return appendJSONString(dst, v.String()), nil
	case reflect.Bool:
		return strconv.AppendBool(dst, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(dst, v.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return strconv.AppendFloat(dst, v.Float(), 'g', -1, 64), nil
	}
	return dst, fmt.Errorf("encode %s: unsupported kind", v.Type())
}

// appendRecordsJSON writes records exactly as the reflective encoder does
// (members in struct order, unset ones omitted), without reflection; the
// base64 of the data goes straight into dst. TestRecordsJSONMatchesReflection
// holds the two together.
func appendRecordsJSON(dst []byte, recs []types.Record) []byte {
	n := 0
	for i := range recs {
		n += base64.StdEncoding.EncodedLen(len(recs[i].Data)) + 160
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, '[')
	for i := range recs {
		r := &recs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		sep := false
		member := func(name string) {
			if sep {
				dst = append(dst, ',')
			}
			sep = true
			dst = append(dst, '"')
			dst = append(dst, name...)
			dst = append(dst, '"', ':')
		}
		if r.Data != nil {
			member("Data")
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, r.Data)
			dst = append(dst, '"')
		}
		if r.SequenceNumber != nil {
			member("SequenceNumber")
			dst = appendJSONString(dst, *r.SequenceNumber)
		}
		if r.ApproximateArrivalTimestamp != nil {
			member("ApproximateArrivalTimestamp")
			dst = appendEpoch(dst, *r.ApproximateArrivalTimestamp)
		}
		if r.EncryptionType != "" {
			member("EncryptionType")
			dst = appendJSONString(dst, string(r.EncryptionType))
		}
		if r.PartitionKey != nil {
			member("PartitionKey")
			dst = appendJSONString(dst, *r.PartitionKey)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendPutResultsJSON writes PutRecords result entries as the reflective
// encoder does (TestRecordsJSONMatchesReflection checks it).
func appendPutResultsJSON(dst []byte, rs []types.PutRecordsResultEntry) []byte {
	dst = slices.Grow(dst, len(rs)*96)
	dst = append(dst, '[')
	for i := range rs {
		r := &rs[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		if r.ErrorCode == nil && r.ErrorMessage == nil && r.SequenceNumber != nil && r.ShardId != nil &&
			plainASCII(*r.SequenceNumber) && plainASCII(*r.ShardId) {
			// The common entry, written without per-member dispatch.
			dst = append(dst, `{"SequenceNumber":"`...)
			dst = append(dst, *r.SequenceNumber...)
			dst = append(dst, `","ShardId":"`...)
			dst = append(dst, *r.ShardId...)
			dst = append(dst, `"}`...)
			continue
		}
		dst = append(dst, '{')
		sep := false
		for _, m := range [...]struct {
			name string
			v    *string
		}{{"ErrorCode", r.ErrorCode}, {"ErrorMessage", r.ErrorMessage}, {"SequenceNumber", r.SequenceNumber}, {"ShardId", r.ShardId}} {
			if m.v == nil {
				continue
			}
			if sep {
				dst = append(dst, ',')
			}
			sep = true
			dst = append(dst, '"')
			dst = append(dst, m.name...)
			dst = append(dst, '"', ':')
			dst = appendJSONString(dst, *m.v)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

func omit(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0 // SDK enums are strings; "" means unset
	}
	return false
}

func appendEpoch(dst []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	dst = strconv.AppendInt(dst, ms/1000, 10)
	frac := ms % 1000
	if frac < 0 {
		frac = -frac
	}
	return append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// plainASCII reports whether s needs no escaping in a JSON string.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// appendJSONString appends s as a JSON string, escaping what JSON requires
// (and, like encoding/json, replacing invalid UTF-8).
func appendJSONString(dst []byte, s string) []byte {
	if plainASCII(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// epochTime decodes an AWS JSON timestamp: epoch seconds, possibly with a
// fraction. Some clients send ISO 8601 strings; accept those too.
type epochTime struct{ t time.Time }

func (e *epochTime) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			e.t = floatTime(f)
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("timestamp %q: want epoch seconds or ISO 8601", s)
		}
		e.t = t
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s: want epoch seconds", b)
	}
	e.t = floatTime(f)
	return nil
}

func floatTime(f float64) time.Time {
	sec := int64(f)
	ms := int64((f-float64(sec))*1000 + 0.5)
	return time.UnixMilli(sec*1000 + ms)
}

func (e *epochTime) ptr() *time.Time {
	if e == nil {
		return nil
	}
	return &e.t
}
