package frontdoor

import (
	"net"
	"net/http"
	"strings"
)

// Hosts decides which Host header values a listener answers. A page in a
// browser can make its own DNS name resolve to 127.0.0.1 (DNS rebinding)
// and then talk to a loopback listener as if same-origin; the one thing
// it cannot forge is the Host header, which carries the attacker's name.
// So a request is served only if its Host is an IP literal (a rebinding
// page never has one), a loopback name ("localhost", "*.localhost"), the
// name the listener was bound to, or a name the operator allowed.
type Hosts struct {
	names map[string]bool // lower case, without port
}

// NewHosts allows the loopback names, the host part of bindAddr (if it is a
// name) and extra (names or host:port, e.g. from --allowed-hosts).
func NewHosts(bindAddr string, extra ...string) *Hosts {
	h := &Hosts{names: map[string]bool{"localhost": true}}
	for _, n := range append([]string{bindAddr}, extra...) {
		if name := hostOnly(n); name != "" {
			h.names[name] = true
		}
	}
	return h
}

// Allowed reports whether a request carrying host (r.Host) may be served.
func (h *Hosts) Allowed(host string) bool {
	name := hostOnly(host)
	if name == "" {
		// HTTP/1.0 without Host: not a browser, nothing to rebind.
		return host == ""
	}
	if net.ParseIP(name) != nil {
		return true
	}
	if strings.HasSuffix(name, ".localhost") {
		return true
	}
	return h.names[name]
}

// hostOnly returns the lower-case host of "host", "host:port", "[v6]" or
// "[v6]:port", without a trailing dot.
func hostOnly(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	return strings.TrimSuffix(strings.ToLower(s), ".")
}

// Guard serves next only for allowed Host headers; other requests are
// counted under cause "host" and answered by refuse (each API answers in
// its own error format).
func (h *Hosts) Guard(listener string, rs *Refusals, refuse func(w http.ResponseWriter, r *http.Request), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.Allowed(r.Host) {
			rs.Refuse(listener, "host", "host", Quote(r.Host), "remote", r.RemoteAddr)
			refuse(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// IsLoopback reports whether a listener bound to addr is reachable only
// from this machine.
func IsLoopback(addr string) bool {
	host := hostOnly(addr)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
