package frontdoor

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// ok answers every request "ok".
var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// syncBuffer is a log destination the server's goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func listenTest(t *testing.T, o Options) (*Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	o.Name, o.Addr = "kinesis", "127.0.0.1:0"
	if o.Shape == nil {
		o.Shape = AWSJSON
	}
	if o.Handler == nil {
		o.Handler = ok
	}
	o.Log = slog.New(slog.NewTextHandler(logs, nil))
	o.Refusals = NewRefusals(o.Log)
	s, err := Listen(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}

// dialFrom opens a connection from a loopback source address of its own
// (127.0.0.x): a client the per-client cap counts apart.
func dialFrom(t *testing.T, src string, addr net.Addr) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends one GET on c and returns the answer (body read).
func get(t *testing.T, c net.Conn, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatalf("writing a request: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// expectRefused checks c gets the 503 for cause and is then closed.
func expectRefused(t *testing.T, c net.Conn, what string) {
	t.Helper()
	br := bufio.NewReader(c)
	resp, body := get(t, c, br)
	var e struct{ Type, Message string }
	json.Unmarshal([]byte(body), &struct {
		Type    *string `json:"__type"`
		Message *string `json:"message"`
	}{&e.Type, &e.Message})
	if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close || e.Type != "ServiceUnavailable" || !strings.Contains(e.Message, what) {
		t.Fatalf("over the cap: %s, Connection: %s, body %s; want 503, close, ServiceUnavailable %q", resp.Status, resp.Header.Get("Connection"), body, what)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("refused connection not closed after the 503: %v", err)
	}
	t.Logf("a client over the cap reads: %s %s", resp.Status, body)
}

// TestConnectionCaps: past MaxConnsPerClient a client's next connection
// gets a 503 with the reason and is closed, at once, while other clients
// are still served; past MaxConns everyone's is. Both are counted, the
// first of each logged, and a closed connection frees its slot.
func TestConnectionCaps(t *testing.T) {
	s, logs := listenTest(t, Options{Limits: Limits{MaxConnsPerClient: 3, MaxConns: 5}})
	closed := make(chan struct{}, 16)
	s.Listener.mu.Lock()
	s.Listener.onClose = func() { closed <- struct{}{} }
	s.Listener.mu.Unlock()

	// Three idle connections from 127.0.0.1 fill its share; the listener
	// accepts in order, so the fourth is counted after them.
	var held []net.Conn
	for range 3 {
		held = append(held, dialFrom(t, "127.0.0.1", s.Addr))
	}
	expectRefused(t, dialFrom(t, "127.0.0.1", s.Addr), "too many open connections from your address (at most 3 per client)")

	// Another client is served meanwhile, and holds the last two slots.
	other := dialFrom(t, "127.0.0.2", s.Addr)
	if resp, body := get(t, other, bufio.NewReader(other)); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("another client: %s %q", resp.Status, body)
	}
	dialFrom(t, "127.0.0.2", s.Addr)
	expectRefused(t, dialFrom(t, "127.0.0.3", s.Addr), "too many open connections (at most 5 on this listener)")

	if n := s.Listener.Open(); n != 5 {
		t.Errorf("%d connections open, want 5", n)
	}
	for cause, want := range map[string]float64{causePerClient: 1, causeTotal: 1} {
		if got := s.Listener.refusals.Count("kinesis", cause); got != want {
			t.Errorf("refusals counted for %s: %v, want %v", cause, got, want)
		}
		if n := strings.Count(logs.String(), "cause="+cause); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", cause, n, logs)
		}
	}

	// Closing one frees its slot (observed as the server closing its end).
	held[0].Close()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("the server never closed the connection the client closed")
	}
	again := dialFrom(t, "127.0.0.1", s.Addr)
	if resp, body := get(t, again, bufio.NewReader(again)); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("after a slot freed: %s %q", resp.Status, body)
	}
}

// TestRefusalsDoNotBlockAccept: a flood of connections over the cap is
// refused while a served client keeps getting answers.
func TestRefusalsDoNotBlockAccept(t *testing.T) {
	s, _ := listenTest(t, Options{Limits: Limits{MaxConnsPerClient: 2}})
	const flood = 300
	refusedConn := make(chan struct{}, flood)
	var wg sync.WaitGroup
	for range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", s.Addr.String(), 10*time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			// Until refused (or, for the two admitted, the server closes).
			if got, _ := io.ReadAll(c); bytes.HasPrefix(got, []byte("HTTP/1.1 503")) {
				refusedConn <- struct{}{}
			}
		}()
	}
	select {
	case <-refusedConn:
	case <-time.After(20 * time.Second):
		t.Fatal("no flooding connection was refused")
	}
	c := dialFrom(t, "127.0.0.2", s.Addr)
	br := bufio.NewReader(c)
	for range 20 {
		if resp, _ := get(t, c, br); resp.StatusCode != 200 {
			t.Fatalf("a served client got %s during the flood", resp.Status)
		}
	}
	t.Logf("%v of %d flooding connections refused when the other client's 20 requests had been answered", s.Listener.refusals.Count("kinesis", causePerClient), flood)
	s.Close()
	wg.Wait()
}

// TestIdleKeepAliveClosed: a keep-alive connection that sends nothing after
// its request is closed after IdleTimeout (idle connections used to be kept
// forever: 20,000 of them exhausted the file descriptors).
func TestIdleKeepAliveClosed(t *testing.T) {
	s, _ := listenTest(t, Options{Limits: Limits{IdleTimeout: 200 * time.Millisecond}})
	c := dialFrom(t, "127.0.0.1", s.Addr)
	br := bufio.NewReader(c)
	if resp, _ := get(t, c, br); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("first request: %s, close=%v", resp.Status, resp.Close)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection: read returned %v, want EOF (closed by the server)", err)
	}
}

// TestTrickledBodyCutOff: a body sent a byte at a time is cut off at
// ReadTimeout, long before it would be complete: the handler sees the read
// fail, and its answer reaches the client even though the write timeout
// (as short as the read timeout, as by default) has passed too.
func TestTrickledBodyCutOff(t *testing.T) {
	readErr := make(chan error, 1)
	s, _ := listenTest(t, Options{Limits: Limits{ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond}, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		if err != nil {
			http.Error(w, "reading the body: "+err.Error(), http.StatusRequestTimeout)
		}
	})})
	c := dialFrom(t, "127.0.0.1", s.Addr)
	const length = 1000 // a byte every 50 ms: 50 s to send
	io.WriteString(c, fmt.Sprintf("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n", length))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond) // the attack's pace
		defer tick.Stop()
		for range length {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte{'x'}); err != nil {
				return
			}
		}
	}()
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the whole trickled body was read")
		}
		t.Logf("the handler's body read failed: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the trickled body was still being read after 30 s: no read timeout")
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the client got no answer, only a closed connection: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("the client got %s %s, want the handler's 408", resp.Status, body)
	}
	t.Logf("the client got: %s %s", resp.Status, strings.TrimSpace(string(body)))
}
