package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
)

// Proxy is an HTTP reverse proxy on 127.0.0.1 in front of a real server,
// for fault tests that must kill a process at a precise moment of a
// request instead of after a guessed sleep. It forwards every request
// unchanged (the Host header too, so SigV4 signatures still verify) and
// can:
//
//   - Trap the next request that matches, hold it at a chosen stage and
//     report it: the test knows an upload is in flight and at which point;
//   - Pause: hold new requests at the door and wait until those in flight
//     have been answered, so that a kill lands between requests (a client
//     then never loses an answer and never resends what was stored);
//   - SetTarget: send later requests to a restarted server on a new port.
type Proxy struct {
	// URL is the proxy's base URL, e.g. http://127.0.0.1:40123.
	URL string

	target atomic.Pointer[url.URL]
	rp     *httputil.ReverseProxy
	srv    *http.Server
	tr     *http.Transport
	// gate: each request holds a read lock while it is served; Pause takes
	// the write lock. A pending writer also blocks new readers, which is
	// exactly "hold new requests at the door".
	gate sync.RWMutex

	mu   sync.Mutex
	trap *trap
}

// Stage is where a trapped request is held.
type Stage int

const (
	// BeforeForward: the request reached the proxy; nothing of it reached
	// the server.
	BeforeForward Stage = iota
	// MidBody: the headers and the first half of the body reached the
	// server, which waits for the rest. Needs a body with a known length.
	MidBody
	// AfterResponse: the server has answered (for a PutObject: the object
	// is stored); the answer has not reached the client.
	AfterResponse
)

func (s Stage) String() string {
	switch s {
	case BeforeForward:
		return "before-forward"
	case MidBody:
		return "mid-body"
	case AfterResponse:
		return "after-response"
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// Caught is a trapped request, held at its stage until Release.
type Caught struct {
	Method, Path string
	Stage        Stage
	release      chan struct{}
	once         sync.Once
	caughtBy     chan<- *Caught
	reported     sync.Once
}

// report hands the caught request to the test, once.
func (c *Caught) report() { c.reported.Do(func() { c.caughtBy <- c }) }

// Release lets the trapped request go. It does not complete: its client
// connection is cut (the client was usually killed meanwhile) and, at
// MidBody, the server sees the body cut short, as when the client dies
// mid-upload. Safe to call more than once.
func (c *Caught) Release() { c.once.Do(func() { close(c.release) }) }

type trap struct {
	match  func(*http.Request) bool
	stage  Stage
	caught chan *Caught
}

// StartProxy starts a proxy to target (a base URL). It stops when ctx is
// done or Close is called.
func StartProxy(ctx context.Context, target string) (*Proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// No pooled connections upstream: a pooled connection to a server
	// that was killed, reused before its death is noticed, fails the next
	// request although the target is up again.
	p := &Proxy{URL: "http://" + l.Addr().String(), tr: &http.Transport{DisableKeepAlives: true}}
	if err := p.SetTarget(target); err != nil {
		l.Close()
		return nil, err
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.target.Load())
			r.Out.Host = r.In.Host // signed by the client (SigV4)
		},
		Transport:      p.tr,
		ModifyResponse: p.holdResponse,
		ErrorHandler:   func(http.ResponseWriter, *http.Request, error) { abort() },
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve)}
	go p.srv.Serve(l)
	go func() { <-ctx.Done(); p.Close() }()
	return p, nil
}

// abort ends the request by cutting the client's connection: what a
// client sees when the server dies. The proxy never makes up an answer of
// its own: a 502 is an error of a server that is up, and a client may
// rightly give up on it (the clickstream producer does).
func abort() { panic(http.ErrAbortHandler) }

// SetTarget sends later requests to target.
func (p *Proxy) SetTarget(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("proxy target %q: %w", target, err)
	}
	p.target.Store(u)
	return nil
}

// Close stops the proxy, cutting the connections it serves.
func (p *Proxy) Close() {
	p.srv.Close()
	p.tr.CloseIdleConnections()
}

// Pause holds every new request at the door and returns once each request
// in flight has been answered (or given up). Resume lets the held ones
// through, to the target current at that time. A trapped request counts
// as in flight: release it before pausing.
func (p *Proxy) Pause() { p.gate.Lock() }

// Resume ends a Pause.
func (p *Proxy) Resume() { p.gate.Unlock() }

// Trap arms a one-shot trap: the next request for which match returns true
// is held at stage and sent on the returned channel (buffered; the trap is
// then disarmed). Requests that do not match pass through. Arming a new
// trap replaces one that has caught nothing yet.
func (p *Proxy) Trap(match func(*http.Request) bool, stage Stage) <-chan *Caught {
	t := &trap{match: match, stage: stage, caught: make(chan *Caught, 1)}
	p.mu.Lock()
	p.trap = t
	p.mu.Unlock()
	return t.caught
}

// spring returns the Caught for r if the armed trap matches it, disarming
// the trap.
func (p *Proxy) spring(r *http.Request) *Caught {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.trap
	if t == nil || !t.match(r) || (t.stage == MidBody && r.ContentLength < 2) {
		return nil
	}
	p.trap = nil
	c := &Caught{Method: r.Method, Path: r.URL.Path, Stage: t.stage, release: make(chan struct{})}
	c.caughtBy = t.caught
	return c
}

type caughtKey struct{}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.gate.RLock()
	defer p.gate.RUnlock()
	c := p.spring(r)
	if c == nil {
		p.rp.ServeHTTP(w, r)
		return
	}
	switch c.Stage {
	case BeforeForward:
		c.report()
		<-c.release
		abort()
	case MidBody:
		p.cutUpload(w, r, c)
		return
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), caughtKey{}, c)))
}

// holdResponse holds an AfterResponse trap's answer until Release, then
// drops it (the ErrorHandler cuts the client's connection).
func (p *Proxy) holdResponse(resp *http.Response) error {
	c, _ := resp.Request.Context().Value(caughtKey{}).(*Caught)
	if c == nil || c.Stage != AfterResponse {
		return nil
	}
	// Read the whole answer first: the server has finished with the request.
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.report()
	<-c.release
	return errAnswerDropped
}

var errAnswerDropped = errors.New("harness proxy: answer dropped by a trap")

// cutUpload sends the request's headers and the first half of its body
// straight to the server on a connection of its own (unbuffered, so the
// bytes have left when the trap reports), then holds until Release and
// closes the connection: the server sees the upload cut.
func (p *Proxy) cutUpload(w http.ResponseWriter, r *http.Request, c *Caught) {
	fail := func() {
		c.report()
		<-c.release
		abort()
	}
	conn, err := net.Dial("tcp", p.target.Load().Host)
	if err != nil {
		fail()
		return
	}
	defer conn.Close()
	h := r.Header.Clone()
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", r.Method, r.URL.RequestURI(), r.Host, r.ContentLength); err != nil {
		fail()
		return
	}
	if err := h.Write(conn); err != nil {
		fail()
		return
	}
	if _, err := io.WriteString(conn, "\r\n"); err != nil {
		fail()
		return
	}
	io.CopyN(conn, r.Body, r.ContentLength/2)
	fail()
}
