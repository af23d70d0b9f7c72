package frontdoor

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"sync"
	"time"
)

// ErrTooLarge is returned for a body over the reader's maximum; each API
// answers it with its own "request body exceeds the maximum size" error.
var ErrTooLarge = errors.New("request body exceeds the maximum size")

// Body buffers are pooled in power-of-two size classes, from the buffer a
// body's first bytes are read into up to one that holds the largest body
// any API reads. A body starts in the smallest class and doubles as its
// bytes arrive, so what it holds is at most twice what it was sent (plus
// the first 4 KiB): a client that announces 11 MiB and sends nothing
// costs 4 KiB, not 11 MiB.
const (
	minClassShift = 12 // 4 KiB, as the HTTP/1 server's own read buffer
	maxClassShift = 24 // 16 MiB
	// MaxBody is the largest maximum ReadBody takes.
	MaxBody = 1<<maxClassShift - 1
)

var pools [maxClassShift - minClassShift + 1]sync.Pool

// class is the size class of a buffer of capacity c (a power of two).
func class(c int) int { return bits.Len(uint(c)) - 1 - minClassShift }

func getBuf(k int) *[]byte {
	if p, ok := pools[k].Get().(*[]byte); ok {
		*p = (*p)[:0]
		return p
	}
	b := make([]byte, 0, 1<<(k+minClassShift))
	return &b
}

func putBuf(p *[]byte) {
	c := cap(*p)
	if k := class(c); c == 1<<(k+minClassShift) && k >= 0 && k < len(pools) {
		pools[k].Put(p)
	}
}

// Body is a request body read under a Budget. Its bytes belong to a
// pooled buffer: whoever read it calls Release once the handler no longer
// uses Bytes (nor anything that aliases them).
type Body struct {
	p      *[]byte
	budget *Budget
	held   int64
	peek   [1]byte
}

// Bytes returns the body.
func (b *Body) Bytes() []byte {
	if b == nil || b.p == nil {
		return nil
	}
	return *b.p
}

// Release gives back the body's budget and buffer. It may be called more
// than once; the body is empty afterwards.
func (b *Body) Release() {
	if b == nil || b.p == nil {
		return
	}
	b.budget.Release(b.held)
	b.held = 0
	putBuf(b.p)
	b.p = nil
}

// ReadBody reads r's body as it arrives, at most max bytes (up to
// MaxBody), taking room in budget (nil: unlimited) for each chunk once it
// has arrived. Errors: ErrTooLarge, ErrBusy (wrapped) when the budget had
// no room within its wait, or the read's own error. The caller releases
// the returned body.
func ReadBody(r *http.Request, max int, budget *Budget) (*Body, error) {
	max = min(max, MaxBody)
	if r.ContentLength > int64(max) {
		// Announced too large: read and drop it, holding nothing, so that
		// a client still sending gets the API's answer, not a reset.
		io.CopyN(io.Discard, r.Body, int64(max)+1)
		return nil, ErrTooLarge
	}
	b := &Body{p: getBuf(0), budget: budget}
	var deadline time.Time
	for {
		buf := *b.p
		var n int
		var err error
		if len(buf) == cap(buf) {
			// Full: only grow if the body goes on.
			n, err = r.Body.Read(b.peek[:])
			if n > 0 {
				nb := getBuf(class(cap(buf)) + 1)
				*nb = append(append(*nb, buf...), b.peek[0])
				putBuf(b.p)
				b.p = nb
			}
		} else {
			n, err = r.Body.Read(buf[len(buf):min(cap(buf), max+1)])
			*b.p = buf[:len(buf)+n]
		}
		if n > 0 {
			if aerr := budget.acquire(r.Context(), int64(n), &deadline); aerr != nil {
				read := len(*b.p)
				b.Release()
				if errors.Is(aerr, ErrBusy) {
					// Read and drop the rest, holding nothing, so that
					// the client gets the 503 (and retries), not a reset.
					io.CopyN(io.Discard, r.Body, int64(max+1-read))
				}
				return nil, aerr
			}
			b.held += int64(n)
			if len(*b.p) > max {
				b.Release()
				return nil, ErrTooLarge
			}
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			b.Release()
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, ErrTooLarge
			}
			return nil, fmt.Errorf("read request body: %w", err)
		}
	}
}
