package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluice-dev/sluice/internal/app"
)

func TestRedriveHelp(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run([]string{"redrive", "-h"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("redrive -h: exit %d\n%s", code, stderr.String())
	}
	for _, want := range []string{"usage: sluice redrive FUNCTION", "exactly once", "-again", "-since", "-s3-endpoint", "through its control"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("redrive -h lacks %q:\n%s", want, stderr.String())
		}
	}
	stderr.Reset()
	if code := run([]string{"redrive"}, strings.NewReader(""), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no function given") {
		t.Errorf("redrive without a function: exit %d\n%s", code, stderr.String())
	}
}

// fakeControl is a control address that, like sluice up's, answers 401
// (in the control API's JSON shape) without the bearer token; it counts
// the requests that carried it.
func fakeControl(t *testing.T, token string) (srv *httptest.Server, authed *atomic.Int32) {
	t.Helper()
	authed = new(atomic.Int32)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(app.Status{Generation: 7})
	})
	mux.HandleFunc("GET /streams/{name}/hot", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(app.HotReport{Stream: r.PathValue("name")})
	})
	mux.HandleFunc("POST /deploy", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(app.DeployResponse{ChangeSet: "No changes to deploy.\n"})
	})
	mux.HandleFunc("POST /redrive", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(app.RedriveLine{Summary: &app.RedriveProgress{Function: "fn"}})
	})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintln(w, `{"error":"control token required: the token is in <state-dir>/control-token"}`)
			return
		}
		authed.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, authed
}

// controlCommands are the CLI commands that call the control address.
func controlCommands(state, addr string) [][]string {
	return [][]string{
		{"status", "--json", "--state-dir", state},
		{"streams", "hot", "s", "--state-dir", state},
		{"deploy", "-t", "template.yaml", "--state-dir", state, "--no-confirm", "--allow-empty"},
		{"redrive", "fn", "--state-dir", state, "--control-addr", addr},
	}
}

// TestControlCommandsSendToken: every command that talks to sluice up
// sends the state dir's control token (status and streams hot sent none,
// and the control address now needs it on every route); without a token
// file each says where it looked; a refused token shows the server's
// explanation rather than an empty status.
func TestControlCommandsSendToken(t *testing.T) {
	token := strings.Repeat("5e", 32)
	srv, authed := fakeControl(t, token)
	addr := strings.TrimPrefix(srv.URL, "http://")
	state := t.TempDir()
	eps, _ := json.Marshal(app.Endpoints{Control: srv.URL})
	if err := os.WriteFile(filepath.Join(state, "endpoints.json"), eps, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, args := range controlCommands(state, addr) {
		var stdout, stderr strings.Builder
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "control token (is sluice up running on "+state+"?)") {
			t.Errorf("%s without a token file: exit %d, stderr %q; want the token file's trouble", args[0], code, stderr.String())
		}
	}

	tokenFile := filepath.Join(state, app.TokenFile)
	if err := os.WriteFile(tokenFile, []byte(strings.Repeat("00", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range controlCommands(state, addr) {
		var stdout, stderr strings.Builder
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "refused the request (401 Unauthorized): control token required") {
			t.Errorf("%s with a stale token: exit %d, stderr %q; want the 401's explanation", args[0], code, stderr.String())
		}
	}

	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range controlCommands(state, addr) {
		before := authed.Load()
		var stdout, stderr strings.Builder
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d\nstdout: %s\nstderr: %s", args[0], code, stdout.String(), stderr.String())
		}
		if authed.Load() == before {
			t.Errorf("%s sent no request with the token", args[0])
		}
	}
}
