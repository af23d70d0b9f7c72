package localdir

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/sinks/dest"
	"github.com/sluice-dev/sluice/sinks/dest/desttest"
)

func newDir(t *testing.T) (*Dir, string) {
	t.Helper()
	base := t.TempDir()
	d, err := New(filepath.Join(base, "buckets"), filepath.Join(base, "tmp"), filepath.Join(base, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	return d, base
}

func TestPutWritesObjectAndMeta(t *testing.T) {
	d, base := newDir(t)
	meta := dest.ObjectMeta{ContentType: "application/octet-stream", ContentEncoding: "gzip", FlushReason: "size", Records: 3}
	if err := d.Put(context.Background(), "b", "x/y/z.gz", strings.NewReader("hello"), meta); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(base, "buckets", "b", "x", "y", "z.gz"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("object = %q, %v", got, err)
	}
	m, err := d.Meta("b", "x/y/z.gz")
	if err != nil {
		t.Fatal(err)
	}
	if m.FlushReason != "size" || m.Records != 3 || m.ContentEncoding != "gzip" {
		t.Fatalf("meta = %+v", m)
	}
	// Overwrite with the same content is fine (replay after a crash).
	if err := d.Put(context.Background(), "b", "x/y/z.gz", strings.NewReader("hello"), meta); err != nil {
		t.Fatal(err)
	}
	assertOnlyObjects(t, filepath.Join(base, "buckets"), []string{"b/x/y/z.gz"})
}

// failingReader fails mid-body, as a stream whose producer broke would.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n > 0 {
		return 0, errors.New("boom")
	}
	f.n++
	return copy(p, "partial"), nil
}

func TestPutIsAtomic(t *testing.T) {
	d, base := newDir(t)
	err := d.Put(context.Background(), "b", "k", &failingReader{}, dest.ObjectMeta{})
	if err == nil {
		t.Fatal("want error from a failing body")
	}
	assertOnlyObjects(t, filepath.Join(base, "buckets"), nil)
	if left, _ := filepath.Glob(filepath.Join(base, "tmp", "*")); len(left) != 0 {
		t.Fatalf("temporary files left behind: %v", left)
	}
}

func TestNewCleansLeftoversAndRejectsTmpUnderRoot(t *testing.T) {
	base := t.TempDir()
	tmp := filepath.Join(base, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(tmp, ".localdir-123.tmp")
	if err := os.WriteFile(left, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(filepath.Join(base, "root"), tmp, filepath.Join(base, "meta")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover not removed: %v", err)
	}
	if _, err := New(filepath.Join(base, "root"), filepath.Join(base, "root", "tmp"), filepath.Join(base, "meta")); err == nil {
		t.Fatal("want error for tmp inside root")
	}
	if _, err := New(filepath.Join(base, "root"), tmp, filepath.Join(base, "root", "b", "meta")); err == nil {
		t.Fatal("want error for meta inside root")
	}
}

func TestKeysNeverEscape(t *testing.T) {
	d, base := newDir(t)
	bad := []string{
		"", "/abs", "/etc/passwd", "../x", "a/../../x", "a/..", "..", ".", "a/./b", "a//b", "a/",
		"a\x00b", "a\nb", "a\x7fb", `a\..\b`, "\xff", strings.Repeat("a", 1025), strings.Repeat("a", 256) + "/b",
	}
	for _, k := range bad {
		if err := d.Put(context.Background(), "b", k, strings.NewReader("x"), dest.ObjectMeta{}); err == nil {
			t.Errorf("Put(%q) succeeded, want rejection", k)
		}
	}
	for _, b := range []string{"", "..", ".", "a/b", "a\x00", "../b"} {
		if err := d.Put(context.Background(), b, "k", strings.NewReader("x"), dest.ObjectMeta{}); err == nil {
			t.Errorf("Put(bucket %q) succeeded, want rejection", b)
		}
	}
	assertOnlyObjects(t, filepath.Join(base, "buckets"), nil)
	// Nothing may have been written next to the root either.
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if n := e.Name(); n != "buckets" && n != "tmp" && n != "meta" {
			t.Errorf("unexpected entry %s beside root", n)
		}
	}
}

func TestPutHonoursCancelledContext(t *testing.T) {
	d, _ := newDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Put(ctx, "b", "k", strings.NewReader("x"), dest.ObjectMeta{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestLargeStreamedBody(t *testing.T) {
	d, _ := newDir(t)
	pr, pw := io.Pipe()
	want := bytes.Repeat([]byte("0123456789"), 200_000)
	go func() { pw.CloseWithError(func() error { _, err := pw.Write(want); return err }()) }()
	if err := d.Put(context.Background(), "b", "big", pr, dest.ObjectMeta{}); err != nil {
		t.Fatal(err)
	}
	p, _ := d.Path("b", "big")
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, want) {
		t.Fatalf("body differs: %d vs %d bytes", len(got), len(want))
	}
}

// assertOnlyObjects checks that the bucket tree holds exactly want (as
// slash paths relative to root): no temporary or metadata files.
func assertOnlyObjects(t *testing.T, root string, want []string) {
	t.Helper()
	var got []string
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("bucket tree = %v, want %v", got, want)
	}
}

func TestConformance(t *testing.T) {
	desttest.Run(t, func(t *testing.T) desttest.Store {
		d, _ := newDir(t)
		return desttest.Store{Dest: d, Reader: d, Bucket: "b"}
	})
}
