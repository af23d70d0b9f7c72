package frontdoor

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"
)

// LongRunning serves next, a handler that legitimately outlives the
// listener's timeouts (a deploy builds functions, a redrive streams its
// progress), without giving a slow client more time: the body is read
// first, at most maxBody+1 bytes, under the listener's read timeout; then
// the read and write deadlines are lifted for the rest of the request.
//
// Lifting the read deadline matters as much as the write one: with
// HTTP/1.1, net/http keeps reading the connection in the background while
// a handler runs, and when ReadTimeout passes that read fails and cancels
// the request's context, stopping the handler mid-way.
// A body that does not arrive in time is answered 408 in shape.
func LongRunning(next http.Handler, maxBody int64, shape Shape) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			ctype, msg := shape("RequestTimeout", fmt.Sprintf("reading the request body: %v", err))
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusRequestTimeout)
			w.Write(msg)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		next.ServeHTTP(w, r)
	})
}
