package harness

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// parquetRecords reads a Parquet object back as one JSON object per row,
// keyed by column name, so tests compare Parquet and JSON output alike.
// Flat schemas only (Firehose's conversion writes Glue's top-level columns).
func parquetRecords(data []byte) ([][]byte, error) {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	cols := f.Schema().Columns()
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = strings.Join(c, ".")
	}
	var out [][]byte
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 256)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				obj := map[string]any{}
				for _, v := range row {
					if v.IsNull() {
						continue
					}
					obj[names[v.Column()]] = parquetValue(v)
				}
				rec, _ := json.Marshal(obj)
				out = append(out, rec)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading rows: %w", err)
			}
		}
		rows.Close()
	}
	return out, nil
}

func parquetValue(v parquet.Value) any {
	switch v.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		return v.Int32()
	case parquet.Int64:
		return v.Int64()
	case parquet.Float:
		return v.Float()
	case parquet.Double:
		return v.Double()
	default:
		return string(v.ByteArray())
	}
}
