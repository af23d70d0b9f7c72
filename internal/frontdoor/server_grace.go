package frontdoor

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// answerGrace is how long a handler has to answer a request whose body
// stopped at the read timeout.
const answerGrace = 5 * time.Second

// answerable lets a handler tell a client why its request failed when the
// body is cut off by ReadTimeout. net/http sets the write deadline
// WriteTimeout after the headers arrived: with the usual WriteTimeout ≤
// ReadTimeout it has passed by the time a trickled body times out, and
// the answer (408, or the API's own error) would be lost, leaving the
// client a bare closed connection. The first read that fails on its
// deadline moves the write deadline answerGrace ahead, once.
func answerable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &graceBody{ReadCloser: r.Body, rc: http.NewResponseController(w)}
		}
		next.ServeHTTP(w, r)
	})
}

type graceBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	extended bool
}

func (b *graceBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.extended && errors.Is(err, os.ErrDeadlineExceeded) {
		b.extended = true
		// A socket deadline is a wall-clock instant: not a Clock's.
		_ = b.rc.SetWriteDeadline(time.Now().Add(answerGrace))
	}
	return n, err
}
