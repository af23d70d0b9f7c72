package app

import (
	"net/http"
	"strings"
)

// frontState is what the API port's guards share across its listeners
// (plain and TLS).
type frontState struct{}

// targetRouter dispatches AWS JSON requests by their X-Amz-Target prefix;
// requests without a known target go to the Kinesis handler, which answers
// them with the API's own error.
func (i *instance) targetRouter() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		i.apiMu.RLock()
		h := i.api[kinesisTarget]
		for prefix, ph := range i.api {
			if strings.HasPrefix(target, prefix) {
				h = ph
				break
			}
		}
		i.apiMu.RUnlock()
		if h == nil {
			http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}
