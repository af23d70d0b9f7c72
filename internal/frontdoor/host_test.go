package frontdoor

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

func TestHostsAllowed(t *testing.T) {
	h := NewHosts("127.0.0.1:4567", "kinesis.internal")
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"127.0.0.1:4567", true},
		{"localhost:4567", true},
		{"LOCALHOST", true},
		{"localhost.", true},
		{"app.localhost:80", true},
		{"[::1]:4567", true},
		{"10.1.2.3", true},
		{"kinesis.internal:4567", true},
		{"", true},
		// A DNS-rebinding page carries its own name.
		{"attacker.example:4567", false},
		{"localhost.attacker.example", false},
		{"127.0.0.1.nip.io:4567", false},
	} {
		if got := h.Allowed(tc.host); got != tc.want {
			t.Errorf("Allowed(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

func TestGuardRefusesAndLogsOncePerMinute(t *testing.T) {
	var logs bytes.Buffer
	rs := NewRefusals(slog.New(slog.NewTextHandler(&logs, nil)))
	fake := clock.NewFake(time.Unix(1000, 0))
	rs.Clock = fake
	served := 0
	g := NewHosts("127.0.0.1:0").Guard("kinesis", rs, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "wrong host", http.StatusMisdirectedRequest)
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ }))
	for i := range 3 {
		req := httptest.NewRequest("POST", "/", nil)
		req.Host = "evil.example"
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != http.StatusMisdirectedRequest {
			t.Fatalf("request %d: status %d", i, rec.Code)
		}
	}
	fake.Advance(61 * time.Second)
	req := httptest.NewRequest("POST", "/", nil)
	req.Host = "evil.example"
	g.ServeHTTP(httptest.NewRecorder(), req)
	ok := httptest.NewRequest("POST", "/", nil)
	ok.Host = "localhost:4567"
	g.ServeHTTP(httptest.NewRecorder(), ok)
	if served != 1 {
		t.Errorf("served %d requests, want only the localhost one", served)
	}
	if got := rs.Count("kinesis", "host"); got != 4 {
		t.Errorf("counted %v refusals, want 4", got)
	}
	if n := strings.Count(logs.String(), "cause=host"); n != 2 {
		t.Errorf("logged %d times, want 2 (once, then again after a minute):\n%s", n, logs.String())
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:4567": true, "localhost:1": true, "[::1]:2": true, "0.0.0.0:4567": false, ":4567": false, "10.0.0.1:1": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
