package frontdoor

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Listener caps the connections a listener holds open: per client address
// (MaxConnsPerClient) and in total (MaxConns). Before it, 20,000 idle
// keep-alive connections from one client exhausted the process's file
// descriptors and took every listener offline. A connection over a cap is
// refused at once, without blocking Accept: counted, logged once a minute,
// answered with a short 503 when the listener speaks plain HTTP, and closed.
type Listener struct {
	net.Listener
	name             string
	perClient, total int
	refusals         *Refusals
	// reply is the 503 to write to a refused connection by cause; nil
	// (a TLS listener, whose clients cannot read plain text) closes it
	// without a word.
	reply map[string][]byte
	// answering bounds the refused connections being answered at once, so
	// a flood of them costs a fixed number of goroutines.
	answering chan struct{}

	mu   sync.Mutex
	open map[string]int // by client IP
	n    int
	// onClose, if set (tests, under mu), runs after an accepted
	// connection closed.
	onClose func()
}

const (
	// maxAnswering is how many refused connections may be getting their
	// 503 at once; past it they are closed without one.
	maxAnswering = 256
	// answerFor bounds the time spent answering a refused connection.
	answerFor = time.Second
)

// LimitConns wraps l with the caps of lim (zero fields take the defaults).
// shape words the 503 in the listener's error format; nil means the
// listener serves TLS and refused connections are closed unanswered.
func LimitConns(l net.Listener, name string, lim Limits, rs *Refusals, shape Shape) *Listener {
	lim = lim.WithDefaults()
	ll := &Listener{
		Listener: l, name: name, perClient: lim.MaxConnsPerClient, total: lim.MaxConns,
		refusals: rs, answering: make(chan struct{}, maxAnswering), open: map[string]int{},
	}
	if shape != nil {
		ll.reply = map[string][]byte{
			causePerClient: rawResponse(http.StatusServiceUnavailable, shape, "ServiceUnavailable",
				fmt.Sprintf("sluice: too many open connections from your address (at most %d per client); close idle connections or raise --max-conns-per-client", lim.MaxConnsPerClient)),
			causeTotal: rawResponse(http.StatusServiceUnavailable, shape, "ServiceUnavailable",
				fmt.Sprintf("sluice: too many open connections (at most %d on this listener); try again later or raise SLUICE_MAX_CONNS", lim.MaxConns)),
		}
	}
	return ll
}

// Refusal causes counted in sluice_frontdoor_refusals_total.
const (
	causePerClient = "conns-per-client"
	causeTotal     = "conns-total"
)

// Accept returns the next connection within the caps; connections over
// them are refused here and never reach the server.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := clientIP(c.RemoteAddr())
		cause, limit := l.admit(client)
		if cause == "" {
			return &limitedConn{Conn: c, l: l, client: client}, nil
		}
		l.refusals.Refuse(l.name, cause, "remote", c.RemoteAddr().String(), "limit", limit)
		l.refuse(c, cause)
	}
}

// admit counts a new connection from client, or names the cap it is over.
func (l *Listener) admit(client string) (cause string, limit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.open[client] >= l.perClient:
		return causePerClient, l.perClient
	case l.n >= l.total:
		return causeTotal, l.total
	}
	l.open[client]++
	l.n++
	return "", 0
}

func (l *Listener) release(client string) {
	l.mu.Lock()
	if l.open[client]--; l.open[client] <= 0 {
		delete(l.open, client)
	}
	l.n--
	onClose := l.onClose
	l.mu.Unlock()
	if onClose != nil {
		onClose()
	}
}

// Open returns how many accepted connections are open (for tests and
// status).
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// refuse answers a refused connection (if the listener has an answer and
// few are being answered) and closes it, off the Accept loop.
func (l *Listener) refuse(c net.Conn, cause string) {
	msg := l.reply[cause]
	if msg == nil {
		c.Close()
		return
	}
	select {
	case l.answering <- struct{}{}:
	default:
		c.Close()
		return
	}
	go func() {
		defer func() { <-l.answering }()
		answerAndClose(c, msg)
	}()
}

// answerAndClose writes msg, then closes gently: our side first (FIN), then
// reads what the client sent until it closes too. Closing a socket with
// unread request bytes sends a reset, which can destroy the answer before
// the client reads it.
func answerAndClose(c net.Conn, msg []byte) {
	defer c.Close()
	// A socket deadline is a wall-clock instant the network poller
	// enforces, so it is set from the wall clock, not a Clock.
	_ = c.SetDeadline(time.Now().Add(answerFor))
	if _, err := c.Write(msg); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// rawResponse is a complete HTTP/1.1 answer that closes the connection.
func rawResponse(status int, shape Shape, code, message string) []byte {
	ctype, body := shape(code, message)
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), ctype, len(body), body)
}

// clientIP is the address a client's connections are counted under.
func clientIP(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// limitedConn gives its slot back when closed (once, however often the
// server closes it).
type limitedConn struct {
	net.Conn
	l      *Listener
	client string
	closed atomic.Bool
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c.client)
	}
	return err
}

// CloseWrite keeps net/http's gentle close (it half-closes TCP connections
// after an error answer so the client reads it).
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
