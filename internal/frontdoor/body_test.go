package frontdoor

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"testing"
	"time"
)

// chunky returns its data in chunks of at most n bytes and records, for
// each Read, how much had been read before and how much room it was given.
type chunky struct {
	data  []byte
	n     int
	off   int
	calls [][2]int // {bytes already read, len(p)}
}

func (c *chunky) Read(p []byte) (int, error) {
	c.calls = append(c.calls, [2]int{c.off, len(p)})
	if c.off == len(c.data) {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.data[c.off:])
	c.off += k
	return k, nil
}

func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestReadBodyHoldsWhatArrived(t *testing.T) {
	budget := NewBudget(64<<20, time.Second)
	for _, n := range []int{0, 1, 4095, 4096, 4097, 8192, 65536, 1<<20 + 3} {
		want := body(n)
		src := &chunky{data: want, n: 3000}
		r := httptest.NewRequest("POST", "/", nil)
		r.Body = io.NopCloser(src)
		r.ContentLength = 11 << 20 // announced, not sent: must not matter
		b, err := ReadBody(r, 11<<20, budget)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Fatalf("%d bytes: read %d different bytes", n, len(b.Bytes()))
		}
		if got := budget.InUse(); got != int64(n) {
			t.Fatalf("%d bytes: budget holds %d", n, got)
		}
		for _, c := range src.calls {
			// Room offered for a read is never more than what arrived
			// (the buffer at most doubles), beyond the first 4 KiB.
			if arrived, room := c[0], c[1]; arrived+room > max(4096, 2*arrived) {
				t.Fatalf("%d bytes: a read after %d bytes was offered %d bytes of room", n, arrived, room)
			}
		}
		b.Release()
		b.Release() // twice is harmless
		if got := budget.InUse(); got != 0 {
			t.Fatalf("%d bytes: budget holds %d after release", n, got)
		}
	}
}

func TestReadBodyTooLarge(t *testing.T) {
	budget := NewBudget(64<<20, time.Second)
	// Announced too large: read and dropped, so the client's answer is not
	// a reset, and nothing held.
	src := &chunky{data: body(5000), n: 1000}
	r := httptest.NewRequest("POST", "/", nil)
	r.Body, r.ContentLength = io.NopCloser(src), 5000
	if _, err := ReadBody(r, 4000, budget); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("announced: err = %v, want ErrTooLarge", err)
	}
	if src.off != 4001 {
		t.Fatalf("announced: read %d bytes before refusing, want 4001", src.off)
	}
	for _, c := range src.calls {
		if c[1] > 32<<10 {
			t.Fatalf("announced: drained through a %d-byte buffer", c[1])
		}
	}
	// Not announced (chunked).
	r = httptest.NewRequest("POST", "/", nil)
	r.Body, r.ContentLength = io.NopCloser(&chunky{data: body(5000), n: 1000}), -1
	if _, err := ReadBody(r, 4000, budget); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("chunked: err = %v, want ErrTooLarge", err)
	}
	if got := budget.InUse(); got != 0 {
		t.Fatalf("budget holds %d after refusals", got)
	}
	// Exactly the maximum is fine.
	r = httptest.NewRequest("POST", "/", bytes.NewReader(body(4000)))
	b, err := ReadBody(r, 4000, budget)
	if err != nil || len(b.Bytes()) != 4000 {
		t.Fatalf("at the maximum: %v", err)
	}
	b.Release()
}

func TestReadBodyBusy(t *testing.T) {
	budget := NewBudget(10_000, 20*time.Millisecond)
	src := &chunky{data: body(20_000), n: 3000}
	r := httptest.NewRequest("POST", "/", nil)
	r.Body = io.NopCloser(src)
	if _, err := ReadBody(r, 1<<20, budget); !errors.Is(err, ErrBusy) {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
	if src.off != 20_000 {
		t.Fatalf("refused after reading %d of 20000 bytes: the rest must be read and dropped, so the client gets the 503 and not a reset", src.off)
	}
	if got := budget.InUse(); got != 0 {
		t.Fatalf("budget holds %d after a refusal", got)
	}
}

func BenchmarkReadBody(b *testing.B) {
	data := body(700 << 10) // a PutRecords of 500 1 KiB records
	budget := NewBudget(256<<20, time.Second)
	r := httptest.NewRequest("POST", "/", nil)
	rd := bytes.NewReader(data)
	r.Body = io.NopCloser(rd)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(data)
		body, err := ReadBody(r, 11<<20, budget)
		if err != nil {
			b.Fatal(err)
		}
		body.Release()
	}
}
