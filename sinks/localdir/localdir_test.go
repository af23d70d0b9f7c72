package localdir

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
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
	// What S3 refuses, and characters a file name should not hold: refused
	// for good, so a writer reports them instead of retrying.
	bad := []string{
		"", "a\x00b", "a\nb", "a\x7fb", `a\..\b`, "\xff", strings.Repeat("a", 1025),
	}
	for _, k := range bad {
		err := d.Put(context.Background(), "b", k, strings.NewReader("x"), dest.ObjectMeta{})
		if _, perm := dest.AsPermanent(err); !perm {
			t.Errorf("Put(%q) = %v, want a permanent refusal", k, err)
		}
	}
	for _, b := range []string{"", "..", ".", "a/b", "a\x00", "../b"} {
		err := d.Put(context.Background(), b, "k", strings.NewReader("x"), dest.ObjectMeta{})
		if _, perm := dest.AsPermanent(err); !perm {
			t.Errorf("Put(bucket %q) = %v, want a permanent refusal", b, err)
		}
	}
	assertOnlyObjects(t, filepath.Join(base, "buckets"), nil)
	// Keys S3 takes but a file system would read as navigation are stored
	// under mapped names, inside the bucket, and read back as they were.
	mapped := map[string]string{
		"/abs":        "b/@/abs",
		"/etc/passwd": "b/@/etc/passwd",
		"../x":        "b/@../x",
		"a/../../x":   "b/a/@../@../x",
		"c/..":        "b/c/@..",
		"..":          "b/@..", // beside "../x": S3 holds both, a tree cannot (see below)
		".":           "b/@.",
		"a/./b":       "b/a/@./b",
		"a//b":        "b/a/@/b",
		"d/":          "b/d/@",
		"@x":          "b/@@x",
	}
	var want, keys []string
	for k, p := range mapped {
		if k == ".." {
			continue
		}
		if err := d.Put(context.Background(), "b", k, strings.NewReader("body of "+k), dest.ObjectMeta{Records: 1}); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
		want, keys = append(want, p), append(keys, k)
	}
	sort.Strings(want)
	sort.Strings(keys)
	assertOnlyObjects(t, filepath.Join(base, "buckets"), want)
	var listed []string
	err := d.Put(context.Background(), "b", "..", strings.NewReader("x"), dest.ObjectMeta{})
	if _, perm := dest.AsPermanent(err); !perm {
		t.Errorf(`Put("..") beside "../x" = %v, want a permanent conflict`, err)
	}
	for _, k := range keys {
		b, m, err := d.Get(context.Background(), "b", k)
		if err != nil || string(b) != "body of "+k || m.Records != 1 {
			t.Errorf("Get(%q) = %q, %+v, %v", k, b, m, err)
		}
	}
	listed, err = d.List(context.Background(), "b", "")
	if err != nil || !slices.Equal(listed, keys) {
		t.Fatalf("List = %q, %v; want %q", listed, err, keys)
	}
	// Nothing may have been written next to the root either.
	ents, _ := os.ReadDir(base)
	for _, e := range ents {
		if n := e.Name(); n != "buckets" && n != "tmp" && n != "meta" {
			t.Errorf("unexpected entry %s beside root", n)
		}
	}
}

// TestLongSegment: a 300-byte segment (a partition value S3 takes) is
// stored under a name of at most 250 bytes that keeps its start, and reads
// back under its key, also after a restart.
func TestLongSegment(t *testing.T) {
	d, base := newDir(t)
	val := strings.Repeat("v", 290) + "é" + "0123456"
	key := "events/type=" + val + "/obj.gz"
	if err := d.Put(context.Background(), "b", key, strings.NewReader("hello"), dest.ObjectMeta{Records: 2}); err != nil {
		t.Fatalf("put a key with a %d-byte segment: %v", len("type="+val), err)
	}
	p, err := d.Path("b", key)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(filepath.Dir(p))
	if len(name) > 250 || !strings.HasPrefix(name, "@type=vvvv") || !strings.HasSuffix(name, "@"+segmentHash("type="+val)) {
		t.Fatalf("mapped name %q (%d bytes)", name, len(name))
	}
	if got, _ := os.ReadFile(p); string(got) != "hello" {
		t.Fatalf("object = %q", got)
	}
	// A restarted process (a new Dir on the same directories) lists and
	// reads it under the original key.
	d2, err := New(filepath.Join(base, "buckets"), filepath.Join(base, "tmp"), filepath.Join(base, "meta"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := d2.List(context.Background(), "b", "events/type=vvv")
	if err != nil || !slices.Equal(keys, []string{key}) {
		t.Fatalf("List = %q, %v", keys, err)
	}
	b, m, err := d2.Get(context.Background(), "b", key)
	if err != nil || string(b) != "hello" || m.Records != 2 {
		t.Fatalf("Get = %q, %+v, %v", b, m, err)
	}
	// A retry lands on the same file.
	if err := d2.Put(context.Background(), "b", key, strings.NewReader("hello"), dest.ObjectMeta{Records: 2}); err != nil {
		t.Fatal(err)
	}
	assertOnlyObjects(t, filepath.Join(base, "buckets"), []string{"b/events/" + name + "/obj.gz"})
}

// TestFileDirectoryConflictIsPermanent: S3 holds "a" and "a/b" side by
// side, a directory tree cannot; the second put is refused for good.
func TestFileDirectoryConflictIsPermanent(t *testing.T) {
	d, _ := newDir(t)
	if err := d.Put(context.Background(), "b", "a", strings.NewReader("x"), dest.ObjectMeta{}); err != nil {
		t.Fatal(err)
	}
	err := d.Put(context.Background(), "b", "a/b", strings.NewReader("y"), dest.ObjectMeta{})
	if p, ok := dest.AsPermanent(err); !ok || p.Code != "LocalDir.KeyConflict" {
		t.Fatalf("put a/b over the object a = %v, want a permanent LocalDir.KeyConflict", err)
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
	sort.Strings(got)
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
