package app

import (
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/sluice-dev/sluice/internal/frontdoor"
	firehoseapi "github.com/sluice-dev/sluice/sinks/firehose/api"
	"github.com/sluice-dev/sluice/streams"
)

// frontState is what the API port's guards share across its listeners
// (plain and TLS): one budget of in-flight request bytes for every API
// on the port, and the SigV4 keys every request must be signed by.
type frontState struct {
	once   sync.Once
	budget *frontdoor.Budget
	keys   map[string]string // access key ID → secret; nil: unverified
}

// defaultMaxInflight is Listen.MaxInflightBytes when left at 0.
const defaultMaxInflight = 256 << 20

func (i *instance) initFront() {
	i.front.once.Do(func() {
		max := i.cfg.Listen.MaxInflightBytes
		if max == 0 {
			max = defaultMaxInflight
		}
		i.front.budget = frontdoor.NewBudget(max, i.cfg.Listen.InflightWait)
		i.front.budget.Clock = i.clock
		i.front.keys = i.cfg.kinesisKeys()
	})
}

// targetRouter dispatches AWS JSON requests by their X-Amz-Target prefix;
// requests without a known target go to the Kinesis handler, which answers
// them with the API's own error.
//
// Before any handler runs, the router reads the body as it arrives under
// the port's budget and, with --verify-sigv4, verifies its signature: so
// every API on the port is covered by one verifier, and no handler holds
// memory for bytes a client has not sent. The handler gets the body (or
// why it was refused, to answer in its API's format) through the request's
// context; the router releases it when the handler returns.
func (i *instance) targetRouter() http.Handler {
	i.initFront()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		i.apiMu.RLock()
		h, max := i.api[kinesisTarget], streams.MaxRequestBody
		for prefix, ph := range i.api {
			if strings.HasPrefix(target, prefix) {
				h = ph
				if prefix == firehoseapi.TargetPrefix {
					max = firehoseapi.MaxRequestBody
				}
				break
			}
		}
		i.apiMu.RUnlock()
		if h == nil {
			http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
			return
		}
		s := i.readBody(r, max)
		defer s.Body.Release()
		h.ServeHTTP(w, frontdoor.Stash(r, s))
	})
}

// readBody reads and verifies r's body for the handler, counting refusals.
func (i *instance) readBody(r *http.Request, max int) *frontdoor.Stashed {
	listener := "kinesis"
	if r.TLS != nil {
		listener = "kinesis-tls"
	}
	b, err := frontdoor.ReadBody(r, max, i.front.budget)
	if err == nil && i.front.keys != nil {
		if err = frontdoor.VerifySigV4(r, b.Bytes(), i.front.keys, i.clock.Now()); err != nil {
			b.Release()
		}
	}
	if err == nil {
		return &frontdoor.Stashed{Body: b, Verified: i.front.keys != nil}
	}
	var se *frontdoor.SigError
	remote := r.RemoteAddr
	switch {
	case errors.As(err, &se):
		i.refusals.Refuse(listener, "sigv4", "remote", remote, "code", se.Code, "target", frontdoor.Quote(r.Header.Get("X-Amz-Target")))
	case errors.Is(err, frontdoor.ErrTooLarge):
		i.refusals.Refuse(listener, "body-too-large", "remote", remote, "content_length", r.ContentLength)
	case errors.Is(err, frontdoor.ErrBusy):
		i.refusals.Refuse(listener, "inflight-budget", "remote", remote, "in_use", i.front.budget.InUse())
	default:
		i.refusals.Refuse(listener, "body-read", "remote", remote, "err", err)
	}
	return &frontdoor.Stashed{Err: err}
}
