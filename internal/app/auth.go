package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// controlAuth guards the control address (issue 13). /healthz and /metrics
// stay open for probes and scrapers; everything else — /status, pprof, the
// hot-key report (partition keys are user data), deploy, redrive and any
// route added later — needs the control token, sent by the CLI as a bearer
// token or by a browser as the session cookie GET /login sets.
//
// The cookie holds an HMAC of the token, not the token: no session is kept
// on the server, a leaked cookie does not reveal the token, and replacing
// the token file (then restarting) ends every session.
type controlAuth struct {
	token   string
	session string // hex HMAC-SHA256 of sessionLabel keyed by token
}

// sessionLabel is what the session cookie's HMAC signs; changing it ends
// every session.
const sessionLabel = "sluice control session v1"

// openPaths need no token: liveness probes and Prometheus scrapes carry
// none, and neither says anything about the data. /login checks the token
// itself. Exact paths only: anything else, including unclean paths the mux
// would redirect, needs the token.
var openPaths = map[string]bool{"/healthz": true, "/metrics": true, "/login": true}

func newControlAuth(token string) *controlAuth {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(sessionLabel))
	return &controlAuth{token: token, session: hex.EncodeToString(m.Sum(nil))}
}

// cookieName includes the port: browsers share cookies between all ports
// of a host, so two instances on one machine would otherwise log each
// other out.
func cookieName(r *http.Request) string {
	name := "sluice-control"
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		name += "-" + port
	}
	return name
}

// wrap puts the token check in front of next.
func (a *controlAuth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		if openPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		switch {
		case a.bearerOK(r):
			// CLI clients: a browser cannot attach this header cross-site
			// without a CORS preflight this server never grants.
		case a.cookieOK(r):
			if !safeMethod(r.Method) && !sameOrigin(r) {
				authError(w, http.StatusForbidden, "cross-site request refused: a request that changes state and is authenticated by the session cookie must come from a page of this control address (Origin http://"+r.Host+"); CLI clients send the control token as Authorization: Bearer instead")
				return
			}
		default:
			h.Set("WWW-Authenticate", `Bearer realm="sluice control"`)
			authError(w, http.StatusUnauthorized, "control token required: CLI clients send Authorization: Bearer <token>, the token being in <state-dir>/"+TokenFile+" (the --state-dir of sluice up, .sluice by default); in a browser, open the login URL (http://"+r.Host+"/login?token=...) that sluice up printed")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerOK reports whether r carries the token as a bearer token (the
// scheme is case-insensitive, RFC 6750), compared in constant time.
func (a *controlAuth) bearerOK(r *http.Request) bool {
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(cred)), []byte(a.token)) == 1
}

func (a *controlAuth) cookieOK(r *http.Request) bool {
	c, err := r.Cookie(cookieName(r))
	return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(a.session)) == 1
}

// serveLogin is GET /login?token=...: the browser's way in, as Jupyter
// does it. The right token sets the session cookie and redirects to / so
// the token leaves the address bar (and history, and Referer headers); a
// wrong one sets nothing.
func (a *controlAuth) serveLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	got := r.URL.Query().Get("token")
	if subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
		authError(w, http.StatusUnauthorized, "wrong or missing token: open the login URL that sluice up printed, or use the token in <state-dir>/"+TokenFile)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(r), Value: a.session, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// loginURL is the address to print for browser users of a control base
// URL such as http://127.0.0.1:4570.
func loginURL(base, token string) string {
	return strings.TrimSuffix(base, "/") + "/login?token=" + url.QueryEscape(token)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether a cookie-authenticated request comes from a
// page of the address it was sent to: SameSite=Strict alone lets any port
// of the same host through (a site is not an origin), so a page served on
// another local port could otherwise post to /redrive. Origin is checked,
// or Referer when a browser sent no Origin; with neither it is refused.
func sameOrigin(r *http.Request) bool {
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
	}
	u, err := url.Parse(from)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || r.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// authError answers in the control API's JSON error shape.
func authError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "<token>" reads better than "\u003ctoken\u003e"
	_ = enc.Encode(map[string]string{"error": msg})
}
