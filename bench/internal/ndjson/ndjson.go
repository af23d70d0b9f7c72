// Package ndjson writes the benchmark's input (generated click events, one
// JSON document a line) and checks the outputs: it counts the records in a
// bucket directory of gzip'd or plain JSON-lines objects, the distinct
// event ids among them, and how they classify by device_class, so that
// Sluice's and Benthos's outputs can be compared record for record.
package ndjson

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-dev/sluice/samples/clickstream/clicks"
)

// Generate writes n click events from a generator seeded with seed to path,
// one JSON document a line. Timestamps come from a fixed clock that
// advances 1 ms per event, so two runs with the same seed produce the same
// file apart from event_id (random by design, see package clicks).
func Generate(path string, n int, seed int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	base := time.Now().UTC().Truncate(time.Hour)
	i := 0
	gen := clicks.New(clicks.Options{Seed: seed, Now: func() time.Time {
		i++
		return base.Add(time.Duration(i) * time.Millisecond)
	}})
	enc := json.NewEncoder(w) // Encode appends the newline
	enc.SetEscapeHTML(false)
	for range n {
		if err := enc.Encode(gen.Next()); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Counts is what a bucket holds.
type Counts struct {
	Objects    int            `json:"objects"`
	Records    int            `json:"records"`
	Distinct   int            `json:"distinct_event_ids"`
	Duplicates int            `json:"duplicates"`
	Partitions int            `json:"partitions"` // distinct object prefixes
	Devices    map[string]int `json:"device_classes"`
	Bytes      int64          `json:"bytes"` // on disk
	// Parquet counts the objects that were Parquet files: their rows are
	// counted from the footer, without event ids or device classes.
	Parquet int `json:"parquet_objects"`
}

// Count reads every object under dir and counts its records: the
// non-empty lines of JSON-lines objects (.gz ones gunzipped), the rows of
// Parquet objects.
func Count(dir string) (Counts, error) {
	c := Counts{Devices: map[string]int{}}
	ids := make(map[string]struct{}, 1<<20)
	prefixes := map[string]struct{}{}
	buf := make([]byte, 0, 1<<20)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		c.Bytes += st.Size()
		rel, _ := filepath.Rel(dir, filepath.Dir(path))
		prefixes[rel] = struct{}{}
		magic := make([]byte, 4)
		if _, err := io.ReadFull(f, magic); err == nil && string(magic) == "PAR1" {
			pf, err := parquet.OpenFile(f, st.Size())
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			c.Objects++
			c.Parquet++
			c.Records += int(pf.NumRows())
			return nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		var r io.Reader = f
		if strings.HasSuffix(path, ".gz") {
			zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			r = zr
		}
		c.Objects++
		sc := bufio.NewScanner(r)
		sc.Buffer(buf, 16<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			c.Records++
			id := StringField(line, "event_id")
			if _, dup := ids[string(id)]; dup {
				c.Duplicates++
			} else {
				ids[string(id)] = struct{}{}
			}
			c.Devices[string(StringField(line, "device_class"))]++
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
	c.Distinct = len(ids)
	c.Partitions = len(prefixes)
	return c, err
}

// StringField returns the raw value of the first "key":"value" string
// field in a compact JSON document (no escapes inside the value), or nil.
// It is a scan, not a parser: good for the generator's own output only.
func StringField(doc []byte, key string) []byte {
	pat := make([]byte, 0, len(key)+4)
	pat = append(pat, '"')
	pat = append(pat, key...)
	pat = append(pat, '"', ':', '"')
	i := bytes.Index(doc, pat)
	if i < 0 {
		return nil
	}
	v := doc[i+len(pat):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil
	}
	return v[:j]
}

// ReadLines returns the lines of an NDJSON file, sharing one backing array.
func ReadLines(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := make([][]byte, 0, bytes.Count(data, []byte{'\n'})+1)
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			i = len(data)
		}
		if l := data[:i]; len(l) > 0 {
			lines = append(lines, l)
		}
		data = data[min(i+1, len(data)):]
	}
	return lines, nil
}
