// Package convert is record format conversion (docs/semantics.md, "Record
// format conversion"): JSON records are decoded against a Glue table's
// columns with the OpenX or Hive JSON SerDe rules and written as Parquet,
// streamed row group by row group.
//
// A delivery stream converts a record twice: once at Accept, only to decide
// whether it goes to the data partition or to the format-conversion-failed
// error output (routes are decided once and logged), and again at flush,
// from the write-ahead log, to produce the rows. Buffers keep holding log
// locations only, so memory per buffered partition does not grow with the
// data, and a flush holds at most one row group. The conversion is a pure
// function of the bytes, so both runs agree.
package convert

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// Deserializers (InputFormatConfiguration.Deserializer).
const (
	SerDeOpenX = "OpenXJsonSerDe"
	SerDeHive  = "HiveJsonSerDe"
)

// Config is DataFormatConversionConfiguration with the Glue table's
// schema already resolved.
type Config struct {
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

// Converter is a compiled Config. It is safe for concurrent use: the
// per-goroutine state of a conversion is in a Scratch or a Writer.
type Converter struct {
	cfg    Config
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

// Compile checks a conversion configuration and compiles it. Its errors
// describe a configuration CreateDeliveryStream would reject.
func Compile(c Config) (*Converter, error) {
	if len(c.Columns) == 0 {
		return nil, errors.New("DataFormatConversionConfiguration: the schema has no columns")
	}
	cv := &Converter{cfg: c}
	switch c.Deserializer {
	case "", SerDeOpenX:
	case SerDeHive:
		cv.hive = true
		for _, f := range c.TimestampFormats {
			if f != "millis" {
				return nil, fmt.Errorf("HiveJsonSerDe TimestampFormats %q: only \"millis\" and the default format are supported by Sluice", f)
			}
			cv.millis = true
		}
	default:
		return nil, fmt.Errorf("DataFormatConversionConfiguration: unknown deserializer %q (want %s or %s)", c.Deserializer, SerDeOpenX, SerDeHive)
	}
	switch strings.ToUpper(c.Compression) {
	case "", "SNAPPY":
		cv.codec = &parquet.Snappy
	case "GZIP":
		cv.codec = &parquet.Gzip
	case "UNCOMPRESSED":
		cv.codec = &parquet.Uncompressed
	default:
		return nil, fmt.Errorf("ParquetSerDe Compression %q: want SNAPPY, GZIP or UNCOMPRESSED", c.Compression)
	}
	if c.PageSizeBytes == 0 {
		cv.cfg.PageSizeBytes = 1 << 20
	} else if c.PageSizeBytes < 64<<10 {
		return nil, fmt.Errorf("ParquetSerDe PageSizeBytes %d: must be at least 65536", c.PageSizeBytes)
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
			return nil, fmt.Errorf("column %q: Glue column names are lower-case letters, digits and underscores", col.Name)
		}
		if cv.hive && strings.Contains(name, ".") {
			return nil, fmt.Errorf("column %q: HiveJsonSerDe does not allow dots in column names", col.Name)
		}
		if seen[name] {
			return nil, fmt.Errorf("column %q appears twice", col.Name)
		}
		seen[name] = true
		k, ok := kindOf(col.Type)
		if !ok {
			return nil, fmt.Errorf("column %q: type %q is not supported by Sluice's Parquet conversion (string, varchar, char, tinyint, smallint, int, bigint, float, double, boolean, timestamp, date are)", col.Name, col.Type)
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

// Table is the Glue table that format-conversion-failed envelopes name.
func (cv *Converter) Table() CatalogTable { return cv.cfg.Table }

// normKey applies the SerDe's key rules to a JSON key.
func (cv *Converter) normKey(k string) string {
	if cv.hive || !cv.cfg.CaseSensitive {
		k = strings.ToLower(k)
	}
	if !cv.hive && cv.cfg.ConvertDotsInJSONKeysToUnderscores {
		k = strings.ReplaceAll(k, ".", "_")
	}
	return k
}

// recordError is a record that cannot be converted.
type recordError struct{ msg string }

func (e *recordError) Error() string { return e.msg }

func errorf(format string, args ...any) error { return &recordError{fmt.Sprintf(format, args...)} }
