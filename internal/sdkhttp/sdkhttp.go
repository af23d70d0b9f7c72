// Package sdkhttp holds workarounds for aws-sdk-go-v2's HTTP layer that
// every SDK client of an event stream needs, in the product and in tests.
package sdkhttp

import (
	"bytes"
	"io"
	"net/http"
)

// Doer is the SDK's HTTPClient: what kinesis.Options.HTTPClient holds.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// DetachedBody sends a copy of the request body, so that nothing the SDK
// does with its own body stream can reach the connection. aws-sdk-go-v2
// (kinesis v1.56, smithy-go v1.28) closes its body stream as soon as an
// operation returns, which for an event stream (SubscribeToShard) is right
// after the initial response and often before net/http's write loop made
// its last Read; that Read fails and the transport closes the connection
// under the live stream (streams/RATIONALE.md).
type DetachedBody struct{ Inner Doer }

// Do implements Doer.
func (d DetachedBody) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		r.ContentLength = int64(len(b))
	}
	return d.Inner.Do(r)
}
