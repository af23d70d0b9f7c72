package convert

import (
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/valyala/fastjson"

	"github.com/sluice-dev/sluice/sinks/firehose/internal/fastparse"
)

// Writer streams rows to an io.Writer, closing a row group whenever the
// JSON behind it reaches RowGroupBytes.
type Writer struct {
	cv      *Converter
	pw      *parquet.Writer
	parser  *fastjson.Parser
	sc      Scratch
	rows    []parquet.Row
	pending int // JSON bytes behind the open row group
	n       int
}

const rowBatch = 256

// NewWriter starts a Parquet file on w.
func (cv *Converter) NewWriter(w io.Writer) *Writer {
	pw := parquet.NewWriter(w, cv.schema,
		parquet.Compression(cv.codec),
		parquet.PageBufferSize(cv.cfg.PageSizeBytes),
		parquet.CreatedBy("sluice", "1", "firehose"),
	)
	return &Writer{cv: cv, pw: pw, parser: fastparse.Pool.Get(), rows: make([]parquet.Row, 0, rowBatch)}
}

// Write converts one record and adds its row to the file.
func (p *Writer) Write(data []byte) error {
	var buf parquet.Row
	if len(p.rows) < cap(p.rows) {
		buf = p.rows[:len(p.rows)+1][len(p.rows)]
	}
	r, err := p.cv.rowParsed(buf, fastparse.Record(p.parser, data), data, &p.sc)
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

func (p *Writer) flushRows() error {
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

// Close writes the rows still held and the file footer.
func (p *Writer) Close() error {
	if err := p.flushRows(); err != nil {
		return err
	}
	if err := p.pw.Close(); err != nil {
		return fmt.Errorf("finish parquet file: %w", err)
	}
	if p.parser != nil {
		fastparse.Pool.Put(p.parser)
		p.parser = nil
	}
	return nil
}
