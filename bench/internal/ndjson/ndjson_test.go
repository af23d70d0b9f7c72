package ndjson

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func TestGenerateAndCount(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	if err := Generate(in, 1000, 7); err != nil {
		t.Fatal(err)
	}
	lines, err := ReadLines(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1000 {
		t.Fatalf("%d lines, want 1000", len(lines))
	}
	if StringField(lines[0], "session_id") == nil || StringField(lines[0], "event_id") == nil {
		t.Fatalf("no session_id/event_id in %s", lines[0])
	}

	// A bucket: one plain object, one gzip'd with a duplicate of its first line.
	bucket := filepath.Join(dir, "bucket", "a")
	os.MkdirAll(bucket, 0o755)
	plain := []byte{}
	for _, l := range lines[:600] {
		plain = append(append(plain, l...), '\n')
	}
	os.WriteFile(filepath.Join(bucket, "one"), plain, 0o644)
	f, _ := os.Create(filepath.Join(dir, "bucket", "two.gz"))
	zw := gzip.NewWriter(f)
	for _, l := range append(lines[600:], lines[0]) {
		zw.Write(append(l, '\n'))
	}
	zw.Close()
	f.Close()

	c, err := Count(filepath.Join(dir, "bucket"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Objects != 2 || c.Records != 1001 || c.Distinct != 1000 || c.Duplicates != 1 || c.Partitions != 2 {
		t.Errorf("counts %+v", c)
	}
}

func TestCountParquet(t *testing.T) {
	dir := t.TempDir()
	type row struct {
		EventID string `parquet:"event_id"`
	}
	rows := make([]row, 321)
	if err := parquet.WriteFile(filepath.Join(dir, "x.parquet"), rows); err != nil {
		t.Fatal(err)
	}
	c, err := Count(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Records != 321 || c.Parquet != 1 || c.Objects != 1 {
		t.Errorf("counts %+v", c)
	}
}

func TestStringField(t *testing.T) {
	doc := []byte(`{"a":1,"event_type":"click","x":"y"}`)
	if got := string(StringField(doc, "event_type")); got != "click" {
		t.Errorf("got %q", got)
	}
	if StringField(doc, "nope") != nil {
		t.Error("missing key found")
	}
}

func BenchmarkStringField(b *testing.B) {
	doc := []byte(`{"event_id":"0b7c5f8e-7a8e-4c1e-9c7a-2b1b0f0f1a2b","user_id":"u-123","session_id":"s-9f8e7d6c","page":"/p/123","event_type":"click"}`)
	for b.Loop() {
		StringField(doc, "session_id")
	}
}
