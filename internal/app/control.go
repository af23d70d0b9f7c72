package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// controlHandler serves the control address: /metrics, /healthz and the
// routes stages registered, all but the first two behind the control token
// (auth.go): the mux is wrapped as a whole, so a route added later is
// guarded without anyone remembering to.
func (i *instance) controlHandler() http.Handler {
	auth := newControlAuth(i.token)
	mux := http.NewServeMux()
	// Process metrics plus the running generation's.
	gather := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		gs := prometheus.Gatherers{i.procReg}
		if g := i.genReg.Load(); g != nil {
			gs = append(gs, g)
		}
		return gs.Gather()
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gather, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", i.serveStatus)
	// Profiles of the running pipeline (loopback by default, like the rest).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("POST /deploy", i.serveDeploy)
	mux.HandleFunc("POST /redrive", i.serveRedrive)
	mux.HandleFunc("GET /login", auth.serveLogin)
	mux.HandleFunc("GET /{$}", serveIndex)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	for _, add := range i.routes {
		add(mux)
	}
	return auth.wrap(mux)
}

// indexPage is what a browser sees after /login until the web console
// exists: links to what the control address serves. Inline, so it needs
// no assets and the CSP can forbid everything else.
const indexPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>sluice</title></head>
<body>
<h1>sluice</h1>
<ul>
<li><a href="/status">/status</a> — mappings and delivery streams</li>
<li><a href="/metrics">/metrics</a> — Prometheus metrics</li>
<li><a href="/debug/pprof/">/debug/pprof/</a> — profiles</li>
</ul>
</body></html>
`

func serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	fmt.Fprint(w, indexPage)
}

// TokenFile is where the control token lives in the state dir: mode 0600,
// generated on first start. Every control route but /healthz and /metrics
// requires it (auth.go): as a bearer token, or through the session cookie
// of GET /login.
const TokenFile = "control-token"

func controlToken(stateDir string) (string, error) {
	path := filepath.Join(stateDir, TokenFile)
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("control token: %w", err)
	}
	// A token others could read may have leaked: it is replaced, not
	// reused (os.WriteFile would also keep the old file's mode).
	private := false
	if fi, serr := os.Stat(path); serr == nil {
		private = fi.Mode().Perm()&0o077 == 0
	}
	if err == nil && private && len(strings.TrimSpace(string(data))) >= 32 {
		return strings.TrimSpace(string(data)), nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	token := hex.EncodeToString(b[:])
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("control token: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("control token: %w", err)
	}
	_, werr := f.WriteString(token + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("control token: %w", werr)
	}
	return token, nil
}

// ReadToken reads the control token of a state dir, for CLI clients.
func ReadToken(stateDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, TokenFile))
	if err != nil {
		return "", fmt.Errorf("control token (is sluice up running on %s?): %w", stateDir, err)
	}
	return strings.TrimSpace(string(data)), nil
}
