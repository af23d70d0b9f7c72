// Package desttest is the conformance suite every dest.Destination must
// pass: the guarantees a delivery stream relies on (atomic, durable,
// idempotent overwrite, streamed bodies of any size, metadata kept), tested
// the same way against every store.
//
// A store's own test calls Run with a constructor:
//
//	func TestConformance(t *testing.T) {
//		desttest.Run(t, func(t *testing.T) desttest.Store {
//			d := newDir(t)
//			return desttest.Store{Dest: d, Reader: d, Bucket: "b"}
//		})
//	}
package desttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/sinks/dest"
)

// Store is one instance under test.
type Store struct {
	Dest   dest.Destination
	Reader dest.Reader
	// Bucket exists (or is created by Put) and is empty.
	Bucket string
	// LargeBody is the size of the body used to test streaming and
	// multipart; default 12 MiB.
	LargeBody int
}

// Run runs the suite; open returns a fresh, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"PutGet", testPutGet},
		{"OverwriteSameBody", testOverwrite},
		{"FailingBodyLeavesNothing", testFailingBody},
		{"StreamedLargeBody", testLarge},
		{"ConcurrentPuts", testConcurrent},
		{"ListByPrefix", testList},
		{"Missing", testMissing},
		{"EmptyBody", testEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s.LargeBody == 0 {
				s.LargeBody = 12 << 20
			}
			tc.fn(t, s)
		})
	}
}

func get(t *testing.T, s Store, key string) ([]byte, dest.ObjectMeta) {
	t.Helper()
	b, m, err := s.Reader.Get(context.Background(), s.Bucket, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b, m
}

func put(t *testing.T, s Store, key string, body io.Reader, m dest.ObjectMeta) {
	t.Helper()
	if err := s.Dest.Put(context.Background(), s.Bucket, key, body, m); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// onlyReader hides any Seek or WriteTo, as a streamed body (an io.Pipe)
// would: a store must not rely on re-reading.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func testPutGet(t *testing.T, s Store) {
	meta := dest.ObjectMeta{
		ContentType: "application/octet-stream", ContentEncoding: "gzip", FlushReason: "size", Records: 3,
		Extra: map[string]string{"delivery-stream": "ds", "sequence-range": "1-3"},
	}
	key := "events/event_type=click/2026/11/26/01/ds-1-2026-11-26-01-00-00-x.gz"
	put(t, s, key, onlyReader{bytes.NewReader([]byte("hello"))}, meta)
	b, m := get(t, s, key)
	if string(b) != "hello" {
		t.Fatalf("body = %q", b)
	}
	if m.ContentEncoding != "gzip" || m.FlushReason != "size" || m.Records != 3 ||
		m.Extra["delivery-stream"] != "ds" || m.Extra["sequence-range"] != "1-3" {
		t.Fatalf("metadata = %+v", m)
	}
	if m.ContentType != "application/octet-stream" {
		t.Fatalf("content type = %q", m.ContentType)
	}
}

func testOverwrite(t *testing.T, s Store) {
	// A delivery stream that crashed after a put but before logging it
	// rewrites the same key with the same bytes.
	for range 2 {
		put(t, s, "k/obj", bytes.NewReader([]byte("same")), dest.ObjectMeta{Records: 1})
	}
	keys, err := s.Reader.List(context.Background(), s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"k/obj"}) {
		t.Fatalf("keys = %v", keys)
	}
}

// failAfter yields n bytes, then fails, as a broken producer pipe would.
type failAfter struct{ n int }

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("producer broke")
	}
	n := min(len(p), f.n)
	for i := range p[:n] {
		p[i] = 'x'
	}
	f.n -= n
	return n, nil
}

func testFailingBody(t *testing.T, s Store) {
	for _, n := range []int{10, s.LargeBody} { // small: one request; large: aborted multipart
		key := fmt.Sprintf("fail/%d", n)
		if err := s.Dest.Put(context.Background(), s.Bucket, key, &failAfter{n: n}, dest.ObjectMeta{}); err == nil {
			t.Fatalf("put with a failing body of %d bytes succeeded", n)
		}
		if _, _, err := s.Reader.Get(context.Background(), s.Bucket, key); !errors.Is(err, dest.ErrNotFound) {
			t.Fatalf("after a failed put of %d bytes: get = %v, want ErrNotFound", n, err)
		}
	}
}

func testLarge(t *testing.T, s Store) {
	body := make([]byte, s.LargeBody+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte(r.Uint32())
	}
	put(t, s, "large/obj", onlyReader{bytes.NewReader(body)}, dest.ObjectMeta{Records: 7})
	b, m := get(t, s, "large/obj")
	if !bytes.Equal(b, body) {
		t.Fatalf("large body differs: got %d bytes, want %d", len(b), len(body))
	}
	if m.Records != 7 {
		t.Fatalf("metadata = %+v", m)
	}
}

func testConcurrent(t *testing.T, s Store) {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			body := bytes.Repeat([]byte{byte('a' + i)}, 1000+i)
			errs <- s.Dest.Put(context.Background(), s.Bucket, fmt.Sprintf("c/%02d", i), onlyReader{bytes.NewReader(body)}, dest.ObjectMeta{Records: i})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 16 {
		b, m := get(t, s, fmt.Sprintf("c/%02d", i))
		if len(b) != 1000+i || b[0] != byte('a'+i) || m.Records != i {
			t.Fatalf("object %d: %d bytes, meta %+v", i, len(b), m)
		}
	}
}

func testList(t *testing.T, s Store) {
	for _, k := range []string{"a/1", "a/2", "b/1", "a-b/1"} {
		put(t, s, k, bytes.NewReader([]byte(k)), dest.ObjectMeta{})
	}
	got, err := s.Reader.List(context.Background(), s.Bucket, "a/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a/1", "a/2"}) {
		t.Fatalf("list a/ = %v", got)
	}
}

func testMissing(t *testing.T, s Store) {
	if _, _, err := s.Reader.Get(context.Background(), s.Bucket, "no/such/key"); !errors.Is(err, dest.ErrNotFound) {
		t.Fatalf("get missing = %v, want ErrNotFound", err)
	}
}

func testEmpty(t *testing.T, s Store) {
	put(t, s, "empty", bytes.NewReader(nil), dest.ObjectMeta{})
	if b, _ := get(t, s, "empty"); len(b) != 0 {
		t.Fatalf("body = %q", b)
	}
}
