package api

import (
	"errors"
	"net/http"

	"github.com/sluice-dev/sluice/internal/frontdoor"
)

// Request bodies are read as they arrive under a budget of in-flight bytes
// (internal/frontdoor), never reserved by Content-Length. Behind Sluice's
// API port the router reads them under the process's budget, verifies
// their signature and stashes them for the handler; a handler served on
// its own reads them under standaloneBudget.

var standaloneBudget = frontdoor.NewBudget(256<<20, frontdoor.DefaultInflightWait)

// readBody returns the request's body: the one the router stashed (own
// false: the router releases it) or one read here (own true).
func readBody(r *http.Request) (b *frontdoor.Body, own bool, err error) {
	if s := frontdoor.StashedBody(r); s != nil {
		return s.Body, false, s.Err
	}
	b, err = frontdoor.ReadBody(r, MaxRequestBody, standaloneBudget)
	return b, err == nil, err
}

// bodyError is the API's answer to a refused body.
func bodyError(err error) *apiError {
	var se *frontdoor.SigError
	switch {
	case errors.As(err, &se):
		return &apiError{status: se.Status, code: se.Code, msg: se.Message}
	case errors.Is(err, frontdoor.ErrTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, "ValidationException", "Request body exceeds the maximum size of %d MiB.", MaxRequestBody>>20)
	case errors.Is(err, frontdoor.ErrBusy):
		return errorf(http.StatusServiceUnavailable, "ServiceUnavailableException", "Service unavailable: %v.", err)
	}
	return errorf(http.StatusBadRequest, "SerializationException", "%v", err)
}
