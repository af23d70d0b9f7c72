package frontdoor

import (
	"context"
	"net/http"
)

// A router that serves several APIs on one port reads each request's body
// once, under the process's budget, and verifies its signature before the
// API's handler runs; it hands the handler what it read through the
// request's context, so the body is neither read nor copied twice. The
// handler answers a stashed error in its API's own format.

type stashKey struct{}

// Stashed is what a router did with a request's body.
type Stashed struct {
	// Body is the read body (nil when Err is set). The router releases it
	// after the handler returns; a handler may release it earlier.
	Body *Body
	// Err is why the body was refused: ErrTooLarge, ErrBusy (wrapped), a
	// *SigError or a read error.
	Err error
	// Verified is set when the router checked the request's SigV4
	// signature over Body.
	Verified bool
}

// Stash returns r carrying s for the handler.
func Stash(r *http.Request, s *Stashed) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), stashKey{}, s))
}

// StashedBody returns what a router stashed in r, or nil if r came
// straight to the handler (which then reads the body itself).
func StashedBody(r *http.Request) *Stashed {
	s, _ := r.Context().Value(stashKey{}).(*Stashed)
	return s
}
