package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/streams"
	"github.com/sluice-dev/sluice/template"
)

// TestControlTokenIsPrivate: the token file is readable by its owner only,
// and a token found in a file others could read is replaced, since it may
// have leaked (os.WriteFile over an older 0644 file kept the wider mode).
func TestControlTokenIsPrivate(t *testing.T) {
	dir := t.TempDir()
	first, err := controlToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, TokenFile)
	mode := func() os.FileMode {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(); m != 0o600 {
		t.Fatalf("new token file mode %o, want 600", m)
	}
	if again, err := controlToken(dir); err != nil || again != first {
		t.Fatalf("a private token is kept across restarts: got %q, %v", again, err)
	}
	leaked := strings.Repeat("ab", 32)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(leaked+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := controlToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got == leaked {
		t.Error("a token others could read was reused")
	}
	if m := mode(); m != 0o600 {
		t.Errorf("token file mode %o after replacing a 644 file, want 600", m)
	}
	if read, err := ReadToken(dir); err != nil || read != got {
		t.Errorf("ReadToken = %q, %v; want the new token", read, err)
	}
}

// testControl is a control handler over an instance with an embedded
// stream "s" and a route registered the way a later stage would add one.
func testControl(t *testing.T, token string) http.Handler {
	t.Helper()
	engine, err := streams.Open(t.TempDir(), streams.Options{CreateDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	if _, err := engine.EnsureStream(t.Context(), streams.StreamSpec{Name: "s", ShardCount: 1}); err != nil {
		t.Fatal(err)
	}
	i := &instance{token: token, procReg: prometheus.NewRegistry()}
	i.gen = &generation{proc: i, plan: &template.Plan{}}
	i.stream.engine = engine
	i.routes = append(i.routes, i.streamRoutes, func(mux *http.ServeMux) {
		mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "console") })
	})
	return i.controlHandler()
}

const controlHost = "127.0.0.1:4570"

func controlRequest(h http.Handler, method, path, body string, header http.Header, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Host = controlHost
	for k, v := range header {
		r.Header[k] = v
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestControlNeedsToken: every route of the control address but /healthz
// and /metrics answers 401 without the token — the pprof profiles, the
// status and the hot-key report (partition keys) were open to anyone who
// could reach the port — and the 401 tells the user where the token is.
// With the bearer token each answers as it did before.
func TestControlNeedsToken(t *testing.T) {
	token := strings.Repeat("7f", 32)
	h := testControl(t, token)
	for _, tc := range []struct {
		method, path, body string
		open               bool
		authed             int // status with the token
	}{
		{"GET", "/healthz", "", true, 200},
		{"GET", "/metrics", "", true, 200},
		{"GET", "/", "", false, 200},
		{"GET", "/status", "", false, 200},
		{"GET", "/debug/pprof/", "", false, 200},
		{"GET", "/debug/pprof/heap", "", false, 200},
		{"GET", "/debug/pprof/goroutine?debug=1", "", false, 200},
		{"GET", "/streams/s/hot", "", false, 200},
		{"GET", "/console", "", false, 200},           // added by a stage, later
		{"GET", "/no/such/route", "", false, 404},     // no probing without the token
		{"GET", "/metrics/../status", "", false, 307}, // only exact open paths are open
		{"POST", "/deploy", "{", false, 400},          // past auth: a bad request
		{"POST", "/redrive", "{", false, 400},         // past auth: a bad request
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := controlRequest(h, tc.method, tc.path, tc.body, nil)
			if tc.open {
				if w.Code != 200 {
					t.Fatalf("without a token: %d, want 200 (open)\n%s", w.Code, w.Body)
				}
			} else {
				if w.Code != http.StatusUnauthorized {
					t.Fatalf("without a token: %d, want 401\n%s", w.Code, w.Body)
				}
				var e struct{ Error string }
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
					t.Fatalf("401 body is not the control API's JSON: %v\n%s", err, w.Body)
				}
				for _, want := range []string{"Authorization: Bearer", "<state-dir>/control-token", "http://" + controlHost + "/login?token="} {
					if !strings.Contains(e.Error, want) {
						t.Errorf("401 error %q lacks %q", e.Error, want)
					}
				}
				if w := controlRequest(h, tc.method, tc.path, tc.body, http.Header{"Authorization": {"Bearer " + strings.Repeat("00", 32)}}); w.Code != http.StatusUnauthorized {
					t.Errorf("with a wrong token: %d, want 401", w.Code)
				}
			}
			w = controlRequest(h, tc.method, tc.path, tc.body, http.Header{"Authorization": {"Bearer " + token}})
			if w.Code != tc.authed {
				t.Errorf("with the token: %d, want %d\n%s", w.Code, tc.authed, w.Body)
			}
		})
	}
}

// login runs GET /login?token=... and returns the response.
func login(t *testing.T, h http.Handler, token string) *httptest.ResponseRecorder {
	t.Helper()
	return controlRequest(h, "GET", strings.TrimPrefix(loginURL("http://"+controlHost, token), "http://"+controlHost), "", nil)
}

// TestControlBrowserLogin: /login with the token sets an HttpOnly,
// SameSite=Strict session cookie and redirects to / without the token in
// the URL; the cookie opens GET routes; a wrong token sets nothing; a
// cookie from before the token was replaced no longer works.
func TestControlBrowserLogin(t *testing.T) {
	token := strings.Repeat("a1", 32)
	h := testControl(t, token)

	w := login(t, h, token)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Fatalf("login: %d to %q, want 303 to /", w.Code, w.Header().Get("Location"))
	}
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies, want 1", len(cookies))
	}
	c := cookies[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("session cookie %s: want HttpOnly, SameSite=Strict, Path=/", c)
	}
	if strings.Contains(c.Value, token) {
		t.Error("the session cookie holds the token itself")
	}
	if w := controlRequest(h, "GET", "/status", "", nil, c); w.Code != 200 {
		t.Errorf("GET /status with the session cookie: %d, want 200\n%s", w.Code, w.Body)
	}
	if w := controlRequest(h, "GET", "/", "", nil, c); w.Code != 200 || !strings.Contains(w.Body.String(), `href="/debug/pprof/"`) {
		t.Errorf("GET / with the session cookie: %d\n%s", w.Code, w.Body)
	}

	for _, wrong := range []string{"", "nope", strings.Repeat("a1", 31)} {
		w := login(t, h, wrong)
		if w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
			t.Errorf("login with token %q: %d, cookies %v; want 401 and none", wrong, w.Code, w.Result().Cookies())
		}
	}

	// sluice up restarted with a new token file: old sessions end.
	h2 := testControl(t, strings.Repeat("b2", 32))
	if w := controlRequest(h2, "GET", "/status", "", nil, c); w.Code != http.StatusUnauthorized {
		t.Errorf("a cookie from before the token was replaced: %d, want 401", w.Code)
	}
}

// TestControlCSRF: a request that changes state and is authenticated by
// the session cookie only passes with an Origin (or Referer) of the
// control address itself — SameSite=Strict does not keep out a page on
// another port of the same host. The CLI's bearer token needs no Origin.
func TestControlCSRF(t *testing.T) {
	token := strings.Repeat("c3", 32)
	h := testControl(t, token)
	c := login(t, h, token).Result().Cookies()[0]
	for _, tc := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"foreign origin", http.Header{"Origin": {"http://evil.example"}}, 403},
		{"another port of the host", http.Header{"Origin": {"http://127.0.0.1:8000"}}, 403},
		{"opaque origin", http.Header{"Origin": {"null"}}, 403},
		{"neither origin nor referer", nil, 403},
		{"foreign referer", http.Header{"Referer": {"http://evil.example/" + controlHost}}, 403},
		{"matching origin", http.Header{"Origin": {"http://" + controlHost}}, 400},
		{"matching referer", http.Header{"Referer": {"http://" + controlHost + "/"}}, 400},
		{"bearer without origin", http.Header{"Authorization": {"Bearer " + token}}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := controlRequest(h, "POST", "/redrive", "{", tc.header, c)
			if w.Code != tc.want {
				t.Fatalf("POST /redrive: %d, want %d (400 = past auth, a bad request)\n%s", w.Code, tc.want, w.Body)
			}
			if tc.want == 403 && !strings.Contains(w.Body.String(), `"error":"cross-site request refused`) {
				t.Errorf("403 body: %s", w.Body)
			}
		})
	}
}
