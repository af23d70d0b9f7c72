package frontdoor

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHTTP2StreamsCapped: a client that ignores the server's
// SETTINGS_MAX_CONCURRENT_STREAMS and opens 2,000 streams on one TLS
// connection gets at most MaxHTTP2Streams handlers running; the rest are
// reset, and memory stays bounded (the figure is logged). net/http's own
// default would run 250 at once.
func TestHTTP2StreamsCapped(t *testing.T) {
	const limit, streams = 10, 2000
	var running, peak atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, streams)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		started <- struct{}{}
		<-release
	})
	cert, err := testTLS()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := listenTest(t, Options{TLS: cert, Handler: handler, Limits: Limits{MaxHTTP2Streams: limit}})
	defer close(release)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	c, err := dialH2(s.Addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.ServerSettings[settingMaxConcurrentStreams]; got != limit {
		t.Fatalf("server advertises SETTINGS_MAX_CONCURRENT_STREAMS=%d, want %d", got, limit)
	}
	resets := make(chan uint32, streams)
	go c.ReadFrames(func(f h2Frame) {
		if f.Type == frameRSTStream {
			resets <- binary.BigEndian.Uint32(f.Payload)
		}
	})
	for i := range streams {
		if err := c.Get(uint32(2*i+1), "127.0.0.1", "/"); err != nil {
			t.Fatalf("stream %d: %v", 2*i+1, err)
		}
	}
	// The admitted streams' handlers start; every other stream is reset.
	for range limit {
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d handlers started", running.Load())
		}
	}
	codes := map[uint32]int{}
	for range streams - limit {
		select {
		case code := <-resets:
			codes[code]++
		case <-time.After(20 * time.Second):
			t.Fatalf("%d streams reset, want %d; %d handlers running", len(codes), streams-limit, running.Load())
		}
	}
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	if p := peak.Load(); p > limit {
		t.Errorf("%d handlers ran at once, over the cap of %d", p, limit)
	}
	t.Logf("%d streams opened on one connection: %d handlers at most at once, resets by HTTP/2 error code %v; heap in use %+.1f MiB, goroutines %+d while held",
		streams, peak.Load(), codes, float64(int64(during.HeapInuse)-int64(before.HeapInuse))/(1<<20), runtime.NumGoroutine()-goroutines)
}

// TestWrongHostRefused: a request whose Host is a name the listener was
// not started with (what a DNS-rebinding page sends) never reaches the
// handler; it gets a 403 in the listener's error shape saying how to allow
// the name. IP literals and localhost are served.
func TestWrongHostRefused(t *testing.T) {
	var served atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) })
	for _, tc := range []struct {
		shape Shape
		check func(body string) bool
	}{
		{AWSJSON, func(body string) bool {
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			return json.Unmarshal([]byte(body), &e) == nil && e.Type == "AccessDeniedException" && strings.Contains(e.Message, "--allowed-hosts attacker.example")
		}},
		{ControlJSON, func(body string) bool {
			var e struct{ Error string }
			return json.Unmarshal([]byte(body), &e) == nil && strings.Contains(e.Error, "DNS rebinding") && strings.Contains(e.Error, "--allowed-hosts attacker.example")
		}},
	} {
		s, _ := listenTest(t, Options{Shape: tc.shape, Handler: h})
		do := func(host string) (*http.Response, string) {
			r, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr.String()+"/", strings.NewReader("{}"))
			r.Host = host
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp, string(body)
		}
		resp, body := do("attacker.example:4567")
		if resp.StatusCode != http.StatusForbidden || !tc.check(body) || served.Load() != 0 {
			t.Fatalf("Host attacker.example: %s %s (handler ran %d times)", resp.Status, body, served.Load())
		}
		t.Logf("Host attacker.example gets: %s %s %s", resp.Status, resp.Header.Get("Content-Type"), body)
		for _, host := range []string{s.Addr.String(), "localhost", "[::1]:4567"} {
			if resp, body := do(host); resp.StatusCode != 200 {
				t.Errorf("Host %s refused: %s %s", host, resp.Status, body)
			}
		}
		served.Store(0)
	}
}

// TestLongRunning: a handler wrapped in LongRunning outlives the
// listener's ReadTimeout and WriteTimeout (a deploy building functions),
// while a body trickled to it is still cut off at ReadTimeout.
func TestLongRunning(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ctxErr := make(chan error, 1)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select { // the work takes longer than both timeouts
		case <-time.After(4 * timeout):
		case <-r.Context().Done():
		}
		ctxErr <- r.Context().Err()
		io.WriteString(w, "done "+string(body))
	})
	s, _ := listenTest(t, Options{Shape: ControlJSON, Handler: LongRunning(slow, 1<<10, ControlJSON),
		Limits: Limits{ReadTimeout: timeout, WriteTimeout: timeout}})
	resp, err := http.Post("http://"+s.Addr.String()+"/deploy", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("a long request was cut off: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := <-ctxErr; err != nil || string(body) != "done {}" {
		t.Fatalf("long request: context %v, answer %s %q", err, resp.Status, body)
	}

	c := dialFrom(t, "127.0.0.1", s.Addr)
	io.WriteString(c, "POST /deploy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("a trickled body to a long route: %v, want a 408", err)
	}
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"error":"reading the request body`) {
		t.Fatalf("a trickled body to a long route: %s %s", resp.Status, body)
	}
	t.Logf("a body trickled to a long route gets: %s %s", resp.Status, body)
}

// TestNewServerSetsEveryLimit: zero limits take the defaults; none is
// left unbounded.
func TestNewServerSetsEveryLimit(t *testing.T) {
	srv := NewServer(ok, Limits{ReadTimeout: time.Second}, nil)
	if srv.ReadTimeout != time.Second || srv.ReadHeaderTimeout != DefaultLimits.ReadHeaderTimeout || srv.WriteTimeout != DefaultLimits.WriteTimeout ||
		srv.IdleTimeout != DefaultLimits.IdleTimeout || srv.HTTP2 == nil || srv.HTTP2.MaxConcurrentStreams != DefaultLimits.MaxHTTP2Streams ||
		srv.MaxHeaderBytes != maxHeaderBytes || srv.Protocols != nil {
		t.Errorf("server limits: %+v", srv)
	}
}
