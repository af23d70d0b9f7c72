package firehose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/valyala/fastjson"
)

// This file is record format conversion (docs/semantics.md, "Record
// format conversion"): JSON records are
// decoded against a Glue table's columns with the OpenX or Hive JSON SerDe
// rules and written as Parquet, streamed row group by row group.
//
// A record is converted twice: once at Accept, only to decide whether it
// goes to the data partition or to the format-conversion-failed error
// output (routes are decided once and logged), and again at flush, from
// the write-ahead log, to produce the rows. Buffers keep holding log
// locations only, so memory per buffered partition does not grow with the
// data, and a flush holds at most one row group.

// Deserializers (InputFormatConfiguration.Deserializer).
const (
	SerDeOpenX = "OpenXJsonSerDe"
	SerDeHive  = "HiveJsonSerDe"
)

// ErrTypeFormatConversion is the error output type of records that cannot
// be converted.
const ErrTypeFormatConversion = "format-conversion-failed"

const codeFormatConversion = "DataFormatConversion.MalformedData"

// Conversion is DataFormatConversionConfiguration with the Glue table's
// schema already resolved.
type Conversion struct {
	// Columns are the table's StorageDescriptor.Columns, in order.
	Columns []Column
	// Deserializer is SerDeOpenX (default) or SerDeHive.
	Deserializer string
	// CaseSensitive turns off OpenX's CaseInsensitive (default true: JSON
	// keys are lower-cased before they are matched to columns).
	CaseSensitive bool
	// ConvertDotsInJSONKeysToUnderscores is the OpenX option: "a.b" → "a_b".
	ConvertDotsInJSONKeysToUnderscores bool
	// ColumnToJSONKeyMappings maps a column to the JSON key it reads
	// (OpenX), e.g. {"ts": "timestamp"}.
	ColumnToJSONKeyMappings map[string]string
	// TimestampFormats are the Hive SerDe's formats; Sluice supports
	// "millis" (epoch milliseconds) beside the default
	// java.sql.Timestamp.valueOf form "yyyy-[m]m-[d]d hh:mm:ss[.f...]".
	TimestampFormats []string
	// Compression is the ParquetSerDe compression: SNAPPY (default), GZIP
	// or UNCOMPRESSED.
	Compression string
	// PageSizeBytes is the Parquet page size (default 1 MiB, at least 64 KiB).
	PageSizeBytes int
	// RowGroupBytes bounds the JSON input behind one row group (default
	// 4 MiB): it is what bounds a flush's memory, whatever the object size.
	RowGroupBytes int
	// Table names the Glue table in format-conversion-failed envelopes.
	Table CatalogTable
}

// Column is one Glue column: its name and Hive type (string, int, bigint,
// double, boolean, timestamp, ...).
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// CatalogTable is the dataCatalogTable of a format-conversion-failed
// envelope (docs/semantics.md, "Firehose error output").
type CatalogTable struct {
	CatalogID    string `json:"catalogId"`
	DatabaseName string `json:"databaseName"`
	TableName    string `json:"tableName"`
	Region       string `json:"region"`
	VersionID    string `json:"versionId"`
	CatalogArn   string `json:"catalogArn"`
}

// colKind is how a column's values are decoded and stored.
type colKind int

const (
	kString colKind = iota
	kInt8
	kInt16
	kInt32
	kInt64
	kFloat
	kDouble
	kBool
	kTimestamp
	kDate
)

var (
	varcharRE = regexp.MustCompile(`^(varchar|char)\(\d+\)$`)
	colNameRE = regexp.MustCompile(`^[a-z0-9_.]+$`)
)

func kindOf(typ string) (colKind, bool) {
	t := strings.ToLower(strings.TrimSpace(typ))
	switch {
	case t == "string" || varcharRE.MatchString(t):
		return kString, true
	case t == "tinyint":
		return kInt8, true
	case t == "smallint":
		return kInt16, true
	case t == "int" || t == "integer":
		return kInt32, true
	case t == "bigint":
		return kInt64, true
	case t == "float":
		return kFloat, true
	case t == "double":
		return kDouble, true
	case t == "boolean":
		return kBool, true
	case t == "timestamp":
		return kTimestamp, true
	case t == "date":
		return kDate, true
	}
	return 0, false
}

// converter is a compiled Conversion.
type converter struct {
	cfg    Conversion
	schema *parquet.Schema
	codec  compress.Codec
	cols   []convCol // in schema column order
	hive   bool
	millis bool // Hive TimestampFormats has "millis"
	// byKey maps a normalised JSON key to the columns (indexes in cols)
	// that read it: several columns may read one key.
	byKey map[string][]int
}

type convCol struct {
	name  string
	key   string // normalised JSON key it reads
	kind  colKind
	index int // leaf column index in the schema
}

func compileConversion(c Conversion) (*converter, error) {
	if len(c.Columns) == 0 {
		return nil, invalid("DataFormatConversionConfiguration: the schema has no columns")
	}
	cv := &converter{cfg: c}
	switch c.Deserializer {
	case "", SerDeOpenX:
	case SerDeHive:
		cv.hive = true
		for _, f := range c.TimestampFormats {
			if f != "millis" {
				return nil, invalidf("HiveJsonSerDe TimestampFormats %q: only \"millis\" and the default format are supported by Sluice", f)
			}
			cv.millis = true
		}
	default:
		return nil, invalidf("DataFormatConversionConfiguration: unknown deserializer %q (want %s or %s)", c.Deserializer, SerDeOpenX, SerDeHive)
	}
	switch strings.ToUpper(c.Compression) {
	case "", "SNAPPY":
		cv.codec = &parquet.Snappy
	case "GZIP":
		cv.codec = &parquet.Gzip
	case "UNCOMPRESSED":
		cv.codec = &parquet.Uncompressed
	default:
		return nil, invalidf("ParquetSerDe Compression %q: want SNAPPY, GZIP or UNCOMPRESSED", c.Compression)
	}
	if c.PageSizeBytes == 0 {
		cv.cfg.PageSizeBytes = 1 << 20
	} else if c.PageSizeBytes < 64<<10 {
		return nil, invalidf("ParquetSerDe PageSizeBytes %d: must be at least 65536", c.PageSizeBytes)
	}
	if c.RowGroupBytes <= 0 {
		cv.cfg.RowGroupBytes = 4 << 20
	}
	// The schema is built from a struct type so that columns keep the
	// Glue table's order (a parquet.Group would sort them by name).
	fields := make([]reflect.StructField, 0, len(c.Columns))
	seen := map[string]bool{}
	var kinds []colKind
	for i, col := range c.Columns {
		name := strings.ToLower(col.Name)
		if !colNameRE.MatchString(name) {
			return nil, invalidf("column %q: Glue column names are lower-case letters, digits and underscores", col.Name)
		}
		if cv.hive && strings.Contains(name, ".") {
			return nil, invalidf("column %q: HiveJsonSerDe does not allow dots in column names", col.Name)
		}
		if seen[name] {
			return nil, invalidf("column %q appears twice", col.Name)
		}
		seen[name] = true
		k, ok := kindOf(col.Type)
		if !ok {
			return nil, invalidf("column %q: type %q is not supported by Sluice's Parquet conversion (string, varchar, char, tinyint, smallint, int, bigint, float, double, boolean, timestamp, date are)", col.Name, col.Type)
		}
		kinds = append(kinds, k)
		var typ reflect.Type
		tag := name + ",optional"
		switch k {
		case kString:
			typ = reflect.TypeFor[string]()
		case kInt8, kInt16, kInt32:
			typ = reflect.TypeFor[int32]()
			if k != kInt32 {
				tag += fmt.Sprintf(",int(%d)", map[colKind]int{kInt8: 8, kInt16: 16}[k])
			}
		case kInt64:
			typ = reflect.TypeFor[int64]()
		case kFloat:
			typ = reflect.TypeFor[float32]()
		case kDouble:
			typ = reflect.TypeFor[float64]()
		case kBool:
			typ = reflect.TypeFor[bool]()
		case kTimestamp:
			typ, tag = reflect.TypeFor[int64](), tag+",timestamp(millisecond)"
		case kDate:
			typ, tag = reflect.TypeFor[int32](), tag+",date"
		}
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: reflect.PointerTo(typ), Tag: reflect.StructTag(`parquet:"` + tag + `"`)})
	}
	cv.schema = parquet.SchemaOf(reflect.New(reflect.StructOf(fields)).Elem().Interface())
	for i, col := range c.Columns {
		name := strings.ToLower(col.Name)
		leaf, ok := cv.schema.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("parquet schema lost column %q", name)
		}
		key := name
		if m, ok := c.ColumnToJSONKeyMappings[col.Name]; ok && !cv.hive {
			key = cv.normKey(m)
		} else if m, ok := c.ColumnToJSONKeyMappings[name]; ok && !cv.hive {
			key = cv.normKey(m)
		}
		cv.cols = append(cv.cols, convCol{name: name, key: key, kind: kinds[i], index: leaf.ColumnIndex})
	}
	cv.byKey = make(map[string][]int, len(cv.cols))
	for i, c := range cv.cols {
		cv.byKey[c.key] = append(cv.byKey[c.key], i)
	}
	return cv, nil
}

// normKey applies the SerDe's key rules to a JSON key.
func (cv *converter) normKey(k string) string {
	if cv.hive || !cv.cfg.CaseSensitive {
		k = strings.ToLower(k)
	}
	if !cv.hive && cv.cfg.ConvertDotsInJSONKeysToUnderscores {
		k = strings.ReplaceAll(k, ".", "_")
	}
	return k
}

// convError is a record that cannot be converted.
type convError struct{ msg string }

func (e *convError) Error() string { return e.msg }

func convErrorf(format string, args ...any) error { return &convError{fmt.Sprintf(format, args...)} }

// row converts one JSON record into a Parquet row (appended to buf).
func (cv *converter) row(buf parquet.Row, data []byte) (parquet.Row, error) {
	p := parserPool.Get()
	defer parserPool.Put(p)
	var sc convScratch
	return cv.rowParsed(buf, fastParse(p, data), data, &sc)
}

// rowJSON is row through encoding/json: the reference the direct path
// (convert_fast.go) is checked against, and the path for every record that
// fails conversion, so error messages come from one place.
func (cv *converter) rowJSON(buf parquet.Row, data []byte) (parquet.Row, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, convErrorf("The record is not a JSON object: %v", err)
	}
	if obj == nil {
		return nil, convErrorf("The record is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, convErrorf("The record holds more than one JSON value")
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
			return nil, convErrorf("column %q: %v", c.name, err)
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

func (cv *converter) value(c convCol, v any) (parquet.Value, error) {
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
func (cv *converter) numberText(v any) (string, error) {
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

func (cv *converter) timestamp(v any) (time.Time, error) {
	switch x := v.(type) {
	case string:
		return cv.timestampString(x)
	case json.Number:
		return cv.timestampNumber(x)
	}
	return time.Time{}, fmt.Errorf("%v is not a timestamp", v)
}

func (cv *converter) timestampString(x string) (time.Time, error) {
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

func (cv *converter) timestampNumber(x json.Number) (time.Time, error) {
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

// parquetWriter streams rows to w, closing a row group whenever the JSON
// behind it reaches RowGroupBytes.
type parquetWriter struct {
	cv      *converter
	pw      *parquet.Writer
	parser  *fastjson.Parser
	sc      convScratch
	rows    []parquet.Row
	pending int // JSON bytes behind the open row group
	n       int
}

const rowBatch = 256

func (cv *converter) newWriter(w io.Writer) *parquetWriter {
	pw := parquet.NewWriter(w, cv.schema,
		parquet.Compression(cv.codec),
		parquet.PageBufferSize(cv.cfg.PageSizeBytes),
		parquet.CreatedBy("sluice", "1", "firehose"),
	)
	return &parquetWriter{cv: cv, pw: pw, parser: parserPool.Get(), rows: make([]parquet.Row, 0, rowBatch)}
}

func (p *parquetWriter) write(data []byte) error {
	var buf parquet.Row
	if len(p.rows) < cap(p.rows) {
		buf = p.rows[:len(p.rows)+1][len(p.rows)]
	}
	r, err := p.cv.rowParsed(buf, fastParse(p.parser, data), data, &p.sc)
	if err != nil {
		return err
	}
	p.rows = append(p.rows, r)
	p.pending += len(data)
	if len(p.rows) == rowBatch {
		if err := p.flushRows(); err != nil {
			return err
		}
	}
	if p.pending >= p.cv.cfg.RowGroupBytes {
		if err := p.flushRows(); err != nil {
			return err
		}
		p.pending = 0
		if err := p.pw.Flush(); err != nil {
			return fmt.Errorf("write parquet row group: %w", err)
		}
	}
	return nil
}

func (p *parquetWriter) flushRows() error {
	if len(p.rows) == 0 {
		return nil
	}
	if _, err := p.pw.WriteRows(p.rows); err != nil {
		return fmt.Errorf("write parquet rows: %w", err)
	}
	p.n += len(p.rows)
	p.rows = p.rows[:0]
	// A new slab, not the old one reset: the written rows pointed into it
	// and a fresh slab needs no assumption about what the writer retains.
	p.sc.slab = make([]byte, 0, cap(p.sc.slab))
	return nil
}

func (p *parquetWriter) close() error {
	if err := p.flushRows(); err != nil {
		return err
	}
	if err := p.pw.Close(); err != nil {
		return fmt.Errorf("finish parquet file: %w", err)
	}
	if p.parser != nil {
		parserPool.Put(p.parser)
		p.parser = nil
	}
	return nil
}

// conversionEnvelope is one record in the format-conversion-failed output
// (docs/semantics.md, "Firehose error output"). Field order is fixed for
// byte-identical replays.
type conversionEnvelope struct {
	AttemptsMade           int          `json:"attemptsMade"`
	ArrivalTimestamp       int64        `json:"arrivalTimestamp"`
	LastErrorCode          string       `json:"lastErrorCode"`
	LastErrorMessage       string       `json:"lastErrorMessage"`
	AttemptEndingTimestamp int64        `json:"attemptEndingTimestamp"`
	RawData                []byte       `json:"rawData"`
	DataCatalogTable       CatalogTable `json:"dataCatalogTable"`
}
