package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-dev/sluice/sinks/firehose/internal/fastparse"
)

// This file decodes one JSON record into a Parquet row the reference way,
// through encoding/json: the path every record that fails conversion
// takes, so error messages come from one place.

// Row converts one JSON record into a Parquet row (appended to buf).
func (cv *Converter) Row(buf parquet.Row, data []byte) (parquet.Row, error) {
	p := fastparse.Pool.Get()
	defer fastparse.Pool.Put(p)
	var sc Scratch
	return cv.rowParsed(buf, fastparse.Record(p, data), data, &sc)
}

// rowJSON is Row through encoding/json: the reference the direct path
// (direct.go) is checked against, and the path for every record that
// fails conversion, so error messages come from one place.
func (cv *Converter) rowJSON(buf parquet.Row, data []byte) (parquet.Row, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, errorf("The record is not a JSON object: %v", err)
	}
	if obj == nil {
		return nil, errorf("The record is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errorf("The record holds more than one JSON value")
	}
	vals := obj
	if cv.hive || !cv.cfg.CaseSensitive || cv.cfg.ConvertDotsInJSONKeysToUnderscores {
		vals = make(map[string]any, len(obj))
		for k, v := range obj {
			vals[cv.normKey(k)] = v
		}
	}
	row := buf[:0]
	if cap(row) < len(cv.cols) {
		row = make(parquet.Row, 0, len(cv.cols))
	}
	row = row[:len(cv.cols)]
	for _, c := range cv.cols {
		v, err := cv.value(c, vals[c.key])
		if err != nil {
			return nil, errorf("column %q: %v", c.name, err)
		}
		row[c.index] = v.Level(0, defLevel(v), c.index)
	}
	return row, nil
}

func defLevel(v parquet.Value) int {
	if v.IsNull() {
		return 0
	}
	return 1
}

func (cv *Converter) value(c convCol, v any) (parquet.Value, error) {
	if v == nil {
		return parquet.NullValue(), nil
	}
	switch c.kind {
	case kString:
		switch x := v.(type) {
		case string:
			return parquet.ByteArrayValue([]byte(x)), nil
		case json.Number:
			return parquet.ByteArrayValue([]byte(x)), nil
		case bool:
			return parquet.ByteArrayValue([]byte(strconv.FormatBool(x))), nil
		default:
			if cv.hive {
				return parquet.Value{}, errors.New("HiveJsonSerDe does not convert nested objects to strings")
			}
			b, err := json.Marshal(x)
			if err != nil {
				return parquet.Value{}, err
			}
			return parquet.ByteArrayValue(b), nil
		}
	case kInt8, kInt16, kInt32, kInt64:
		bits := intBits[c.kind]
		s, err := cv.numberText(v)
		if err != nil {
			return parquet.Value{}, err
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return parquet.Value{}, fmt.Errorf("%q is not a %d-bit integer", s, bits)
		}
		if c.kind == kInt64 {
			return parquet.Int64Value(n), nil
		}
		return parquet.Int32Value(int32(n)), nil
	case kFloat, kDouble:
		s, err := cv.numberText(v)
		if err != nil {
			return parquet.Value{}, err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return parquet.Value{}, fmt.Errorf("%q is not a number", s)
		}
		if c.kind == kFloat {
			return parquet.FloatValue(float32(f)), nil
		}
		return parquet.DoubleValue(f), nil
	case kBool:
		switch x := v.(type) {
		case bool:
			return parquet.BooleanValue(x), nil
		case string:
			if !cv.hive {
				switch strings.ToLower(x) {
				case "true":
					return parquet.BooleanValue(true), nil
				case "false":
					return parquet.BooleanValue(false), nil
				}
			}
		}
		return parquet.Value{}, fmt.Errorf("%v is not a boolean", v)
	case kTimestamp:
		t, err := cv.timestamp(v)
		if err != nil {
			return parquet.Value{}, err
		}
		return parquet.Int64Value(t.UnixMilli()), nil
	case kDate:
		s, ok := v.(string)
		if !ok {
			return parquet.Value{}, fmt.Errorf("%v is not a date (yyyy-MM-dd)", v)
		}
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return parquet.Value{}, fmt.Errorf("%q is not a date (yyyy-MM-dd)", s)
		}
		return parquet.Int32Value(int32(t.Unix() / 86400)), nil
	}
	return parquet.Value{}, errors.New("unsupported column type")
}

// numberText returns a numeric JSON value's text. OpenX also takes numbers
// written as strings; the Hive SerDe rejects them.
func (cv *Converter) numberText(v any) (string, error) {
	switch x := v.(type) {
	case json.Number:
		return x.String(), nil
	case string:
		if !cv.hive {
			return strings.TrimSpace(x), nil
		}
		return "", fmt.Errorf("HiveJsonSerDe does not accept the string %q for a numeric column", x)
	}
	return "", fmt.Errorf("%v is not a number", v)
}

// epochMillisFrom separates epoch seconds from epoch milliseconds in
// OpenX's integer timestamps: 10^11 seconds is the year 5138, 10^11
// milliseconds is 1973.
const epochMillisFrom = 1e11

var (
	// isoRE is OpenX's yyyy-MM-dd'T'HH:mm:ss[.S]'Z'.
	isoRE = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$`)
	// sqlRE is java.sql.Timestamp.valueOf's yyyy-[m]m-[d]d hh:mm:ss[.f...].
	sqlRE = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$`)
)

// intBits is the width of each integer kind.
var intBits = [...]int{kInt8: 8, kInt16: 16, kInt32: 32, kInt64: 64}

func (cv *Converter) timestamp(v any) (time.Time, error) {
	switch x := v.(type) {
	case string:
		return cv.timestampString(x)
	case json.Number:
		return cv.timestampNumber(x)
	}
	return time.Time{}, fmt.Errorf("%v is not a timestamp", v)
}

func (cv *Converter) timestampString(x string) (time.Time, error) {
	if m := sqlRE.FindStringSubmatch(x); m != nil {
		return civil(m)
	}
	if !cv.hive {
		if m := isoRE.FindStringSubmatch(x); m != nil {
			return civil(m)
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a supported timestamp", x)
}

func (cv *Converter) timestampNumber(x json.Number) (time.Time, error) {
	if cv.hive && !cv.millis {
		return time.Time{}, fmt.Errorf("%s: numeric timestamps need TimestampFormats [millis]", x)
	}
	if n, err := x.Int64(); err == nil {
		if cv.hive || math.Abs(float64(n)) >= epochMillisFrom {
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	f, err := x.Float64()
	if err != nil || cv.hive {
		return time.Time{}, fmt.Errorf("%s is not a supported timestamp", x)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// civil builds a UTC time from regexp groups year..second[.fraction].
func civil(m []string) (time.Time, error) {
	var n [6]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	var nsec int
	if f := m[7]; f != "" {
		frac := (f[1:] + "000000000")[:9]
		nsec, _ = strconv.Atoi(frac)
	}
	t := time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], nsec, time.UTC)
	if t.Month() != time.Month(n[1]) || t.Day() != n[2] || n[3] > 23 || n[4] > 59 || n[5] > 59 {
		return time.Time{}, fmt.Errorf("%q is not a valid date and time", m[0])
	}
	return t, nil
}
