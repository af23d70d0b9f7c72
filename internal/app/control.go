package app

import (
	"crypto/rand"
	"crypto/subtle"
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
// routes stages registered.
func (i *instance) controlHandler() http.Handler {
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
	mux.Handle("POST /deploy", i.requireToken(http.HandlerFunc(i.serveDeploy)))
	mux.Handle("POST /redrive", i.requireToken(http.HandlerFunc(i.serveRedrive)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	for _, add := range i.routes {
		add(mux)
	}
	return mux
}

// TokenFile is where the control token lives in the state dir: mode 0600,
// generated on first start. Routes that change the running instance
// (deploy) require it as a bearer token.
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

func (i *instance) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(i.token)) != 1 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "{\"error\":\"missing or wrong control token: send Authorization: Bearer <%s in the state dir>\"}\n", TokenFile)
			return
		}
		next.ServeHTTP(w, r)
	})
}
