package frontdoor

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Limits are what every listener enforces on its clients. Zero fields take
// the defaults (DefaultLimits): no listener is ever left without a timeout.
type Limits struct {
	// ReadHeaderTimeout bounds sending the headers; ReadTimeout the whole
	// request, body included (a body trickled a byte at a time is cut
	// off); WriteTimeout writing the answer (streamed answers extend it
	// as they go, see LongRunning); IdleTimeout how long a keep-alive
	// connection may sit between requests.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConnsPerClient and MaxConns cap open connections from one client
	// address and in total (see Listener).
	MaxConnsPerClient, MaxConns int
	// MaxHTTP2Streams caps concurrent streams on one HTTP/2 connection.
	MaxHTTP2Streams int
}

// DefaultLimits leave room for heavy legitimate producers.
var DefaultLimits = Limits{
	ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
	WriteTimeout: 60 * time.Second, IdleTimeout: 60 * time.Second,
	MaxConnsPerClient: 1024, MaxConns: 4096, MaxHTTP2Streams: 100,
}

// WithDefaults fills zero fields from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	pick := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	pick(&l.ReadTimeout, d.ReadTimeout)
	pick(&l.WriteTimeout, d.WriteTimeout)
	pick(&l.IdleTimeout, d.IdleTimeout)
	for _, p := range []struct {
		v   *int
		def int
	}{{&l.MaxConnsPerClient, d.MaxConnsPerClient}, {&l.MaxConns, d.MaxConns}, {&l.MaxHTTP2Streams, d.MaxHTTP2Streams}} {
		if *p.v <= 0 {
			*p.v = p.def
		}
	}
	return l
}

// maxHeaderBytes caps a request's headers (net/http's default is 1 MiB:
// thousands of connections each sending that much would hold gigabytes).
// AWS requests, signatures included, need a few KiB.
const maxHeaderBytes = 64 << 10

// NewServer is the one way Sluice builds an http.Server, so no listener is
// forgotten: every timeout of lim, a header cap, HTTP/2 (over TLS only, as
// before: nothing enables unencrypted HTTP/2) with at most
// lim.MaxHTTP2Streams concurrent streams per connection, a body cut off by
// ReadTimeout still answered (see answerable), and net/http's
// own complaints about broken clients (TLS handshake errors and the like,
// which a hostile client can cause at will) logged at debug level only.
func NewServer(h http.Handler, lim Limits, log *slog.Logger) *http.Server {
	lim = lim.WithDefaults()
	if log == nil {
		log = slog.Default()
	}
	return &http.Server{
		Handler:           answerable(h),
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: lim.MaxHTTP2Streams},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// Shape words an error in a listener's own format: code is the AWS error
// type, message what a person reads.
type Shape func(code, message string) (contentType string, body []byte)

// AWSJSON is the error shape of the AWS JSON 1.1 APIs (Kinesis, Firehose):
// {"__type": code, "message": message}, which every SDK parses into a typed
// error carrying the message.
func AWSJSON(code, message string) (string, []byte) {
	return "application/x-amz-json-1.1", marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{code, message})
}

// ControlJSON is the control address's error shape: {"error": message}.
func ControlJSON(_, message string) (string, []byte) {
	return "application/json", marshal(struct {
		Error string `json:"error"`
	}{message})
}

// marshal encodes v without escaping <, > and & (the content type is
// JSON, so they are harmless, and "->" stays readable in messages).
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// HostRefusal answers a request whose Host the listener does not serve:
// 403 AccessDeniedException. 403 because the request is well formed and
// would work under another name (not a 400), and retrying cannot help (AWS
// SDKs do not retry it); AccessDeniedException is the type AWS uses for a
// request it understood and will not serve, so SDKs surface it as such.
func HostRefusal(shape Shape) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		name := hostOnly(r.Host)
		ctype, body := shape("AccessDeniedException", fmt.Sprintf(
			"sluice: this listener does not answer Host %q (protection against DNS rebinding: it answers IP addresses, localhost and the name it is bound to); if you reach sluice by that name, start it with --allowed-hosts %s",
			Quote(r.Host), Quote(name)))
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusForbidden)
		w.Write(body)
	}
}

// Options describe one listener for Listen.
type Options struct {
	// Name labels the listener in refusal counts and logs ("kinesis",
	// "kinesis-tls", "control").
	Name, Addr string
	Handler    http.Handler
	// Shape words refusals in the API's error format.
	Shape Shape
	// TLS, when set, serves HTTPS (HTTP/2 and HTTP/1.1 by ALPN).
	TLS          *tls.Config
	Limits       Limits
	AllowedHosts []string
	Refusals     *Refusals
	Log          *slog.Logger
}

// Server is a listener served with every guard of the front door.
type Server struct {
	*http.Server
	Addr     net.Addr
	Listener *Listener
}

// Listen binds o.Addr and serves o.Handler behind the front door: the
// connection caps, the Host check (bound name plus o.AllowedHosts) and the
// server limits of NewServer. Shut it down with Close or Shutdown.
func Listen(o Options) (*Server, error) {
	l, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s address: %w", o.Name, err)
	}
	replyShape := o.Shape
	if o.TLS != nil {
		replyShape = nil // a TLS client cannot read a plain-text 503
	}
	ll := LimitConns(l, o.Name, o.Limits, o.Refusals, replyShape)
	hosts := NewHosts(o.Addr, o.AllowedHosts...)
	srv := NewServer(hosts.Guard(o.Name, o.Refusals, HostRefusal(o.Shape), o.Handler), o.Limits, o.Log)
	s := &Server{Server: srv, Addr: l.Addr(), Listener: ll}
	if o.TLS != nil {
		srv.TLSConfig = o.TLS
		go srv.ServeTLS(ll, "", "")
	} else {
		go srv.Serve(ll)
	}
	return s, nil
}
