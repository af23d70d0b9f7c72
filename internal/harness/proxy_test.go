package harness

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProxyTrapStages checks what the server has seen when each stage of a
// trap reports: nothing, half a body, or the whole request answered.
func TestProxyTrapStages(t *testing.T) {
	got := make(chan string, 10) // what the server read of each PUT body, and how it ended
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			got <- "cut after " + string(b)
			return
		}
		got <- "whole " + string(b)
		w.Write([]byte("stored"))
	}))
	defer srv.Close()
	p, err := StartProxy(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// A fresh connection per request: Go's client resends an idempotent
	// request whose reused connection was cut, which would pass the trap.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	put := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest("PUT", p.URL+path, strings.NewReader("0123456789"))
		return client.Do(req)
	}
	isObj := func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/b/") }

	for _, tc := range []struct {
		stage  Stage
		server string // what the server saw when the trap reported ("" nothing)
	}{
		{BeforeForward, ""},
		{MidBody, "cut after 01234"},
		{AfterResponse, "whole 0123456789"},
	} {
		t.Run(tc.stage.String(), func(t *testing.T) {
			caught := p.Trap(isObj, tc.stage)
			// A request the trap does not match passes.
			if resp, err := put("/other"); err != nil || resp.StatusCode != 200 {
				t.Fatalf("unmatched request: %v %v", resp, err)
			}
			if s := <-got; s != "whole 0123456789" {
				t.Fatalf("unmatched request: server saw %q", s)
			}
			done := make(chan int)
			go func() {
				resp, err := put("/b/key")
				if err != nil {
					done <- 0
					return
				}
				resp.Body.Close()
				done <- resp.StatusCode
			}()
			c := <-caught
			if c.Path != "/b/key" || c.Stage != tc.stage {
				t.Fatalf("caught %+v", c)
			}
			if tc.stage == AfterResponse {
				if s := <-got; s != tc.server {
					t.Fatalf("server saw %q, want %q", s, tc.server)
				}
			}
			c.Release()
			if code := <-done; code != 0 {
				t.Fatalf("a trapped request was answered %d after release; want its connection cut", code)
			}
			switch tc.stage {
			case BeforeForward:
				select {
				case s := <-got:
					t.Fatalf("server saw %q of a request held before forwarding", s)
				default:
				}
			case MidBody:
				if s := <-got; s != tc.server {
					t.Fatalf("server saw %q, want %q", s, tc.server)
				}
			}
		})
	}
}

// TestProxyPause checks that Pause waits for the request in flight and
// holds new ones until Resume, which sends them to the new target.
func TestProxyPause(t *testing.T) {
	arrived, slow := make(chan struct{}), make(chan struct{})
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-slow
		w.Write([]byte("a"))
	}))
	defer a.Close()
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("b")) }))
	defer b.Close()
	p, err := StartProxy(t.Context(), a.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	get := func(out chan<- string) {
		resp, err := http.Get(p.URL)
		if err != nil {
			out <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out <- string(body)
	}
	first := make(chan string, 1)
	go get(first)
	<-arrived
	paused := make(chan struct{})
	go func() { p.Pause(); close(paused) }()
	// One-sided: a correct Pause cannot have returned while the server
	// still holds the first request.
	select {
	case <-paused:
		t.Fatal("Pause returned while a request was in flight")
	default:
	}
	close(slow)
	<-paused
	if r := <-first; r != "a" {
		t.Errorf("request in flight during Pause: %q, want a", r)
	}
	p.SetTarget(b.URL)
	second := make(chan string, 1)
	go get(second)
	p.Resume()
	if r := <-second; r != "b" {
		t.Errorf("request held during the pause went to %q, want the new target b", r)
	}
}
