package streams

import (
	"net/http"

	"github.com/sluice-dev/sluice/internal/frontdoor"
)

// SigV4 verification (Options.Credentials). By default signatures are
// parsed by nobody and accepted: the embedded stream listens on loopback
// for local tools. With credentials configured, every request must carry a
// valid AWS Signature Version 4 by one of them. The verifier is the front
// door's (internal/frontdoor/sigv4.go), the one Sluice's API port runs for
// every API it serves; here it runs when the handler is served on its own
// (SDKClient, embedders, tests) or a router passed on a body it did not
// verify.

// verify checks r's signature over body when credentials are configured.
func (a *httpAPI) verify(r *http.Request, body []byte) error {
	if len(a.e.opts.Credentials) == 0 {
		return nil
	}
	// The engine's clock, as the app's front door uses the app's: a replay
	// on virtual time signs with that time too.
	return frontdoor.VerifySigV4(r, body, a.e.opts.Credentials, a.e.clk.Now())
}
