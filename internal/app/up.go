package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/frontdoor"
	"github.com/sluice-dev/sluice/template"
)

// Endpoints is what `sluice up` prints on its ready line and writes to
// <state-dir>/endpoints.json, for tools and tests to find it.
type Endpoints struct {
	Kinesis string `json:"kinesis"`
	// KinesisTLS is the same API over TLS (--kinesis-tls-addr), trusting
	// the certificate in KinesisCA (a PEM file).
	KinesisTLS string            `json:"kinesisTLS,omitempty"`
	KinesisCA  string            `json:"kinesisCA,omitempty"`
	Control    string            `json:"control"`
	StateDir   string            `json:"stateDir"`
	Buckets    map[string]string `json:"buckets"` // bucket name → directory
	PID        int               `json:"pid"`
}

// instance is one running `sluice up`. Each start-up stage lives in its own
// file (stream.go, functions.go, delivery.go, mappings.go, control.go).
//
// The process-level parts (the embedded stream, the listeners) start once
// and add their clean-up to the instance. The pipeline — functions,
// delivery streams, mappings — runs as a generation (generation.go) that
// `sluice deploy` and `up --watch` replace: the old generation drains and
// flushes, the new one resumes from the durable checkpoints and write-ahead
// logs, so a redeploy loses nothing.
type instance struct {
	cfg      Config
	log      *slog.Logger
	clock    clock.Clock // cfg.Clock, for every component built
	stateDir string
	procReg  *prometheus.Registry
	// genReg is the running generation's registry, for /metrics.
	genReg atomic.Pointer[prometheus.Registry]

	// cleanups run in reverse order of start-up; each is safe after a
	// partial start. Process-level stages append with onStop.
	cleanups []func()
	// api routes requests on the Kinesis address by the X-Amz-Target
	// prefix ("Kinesis_20131202.", "Firehose_20150804."): one port serves
	// every AWS API Sluice emulates. apiMu is held for writing while a
	// generation starts, so requests wait for the new handlers.
	api   map[string]http.Handler
	apiMu sync.RWMutex
	// routes are added to the control server's mux.
	routes []func(mux *http.ServeMux)
	// buckets maps bucket names to their local directories.
	buckets map[string]string

	stream streamStage

	// gen is the running generation (or, after a deploy whose rollback
	// failed too, the stopped one it replaced); started counts the
	// generations started. genMu serialises deploys, and guards both.
	genMu   sync.Mutex
	gen     *generation
	started int
	// loadFuncs replaces loadFunctions in tests, which load stand-ins
	// instead of building functions.
	loadFuncs func(ctx context.Context, plan *template.Plan) (functionStage, error)
	// storageFault carries a sink's storage failure to superviseStorage.
	storageFault chan error
	logs         logFiles // functions' captured output, for `sluice logs`
	token        string
	endpoints    Endpoints
	// refusals counts and rate-limits the logging of every client a
	// listener turned away (internal/frontdoor); front is the API port's
	// shared guard state (router.go).
	refusals *frontdoor.Refusals
	front    frontState
}

func (i *instance) onStop(f func()) { i.cleanups = append(i.cleanups, f) }

// Up runs the template until ctx is cancelled, then drains in-flight
// batches, flushes every delivery stream buffer and returns.
func Up(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	plan, err := template.ParseFile(cfg.Template, template.Options{ParameterOverrides: cfg.ParameterOverrides})
	if err != nil {
		return err
	}
	stateDir, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return err
	}
	lock, err := lockStateDir(stateDir)
	if err != nil {
		return err
	}
	defer lock.release()
	token, err := controlToken(stateDir)
	if err != nil {
		return err
	}

	i := newInstance(cfg, stateDir)
	i.token = token
	defer func() {
		i.genMu.Lock() // a deploy or a storage recovery may be starting one
		if i.gen != nil {
			i.gen.stop()
		}
		i.genMu.Unlock()
		for k := len(i.cleanups) - 1; k >= 0; k-- {
			i.cleanups[k]()
		}
		i.logs.close()
	}()
	i.procReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := i.startStream(ctx, plan); err != nil {
		return err
	}
	i.genMu.Lock()
	g, err := i.provision(ctx, plan)
	if err == nil {
		err = i.activate(ctx, g)
	}
	i.genMu.Unlock()
	if err != nil {
		return err
	}
	if cfg.Watch {
		go i.watch(ctx)
	}
	go i.superviseStorage(ctx)
	return i.serve(ctx)
}

// newInstance is an instance of cfg (validated) on stateDir with nothing
// started yet.
func newInstance(cfg Config, stateDir string) *instance {
	i := &instance{
		cfg: cfg, log: newLogger(cfg), clock: cfg.Clock, stateDir: stateDir,
		procReg: prometheus.NewRegistry(), api: map[string]http.Handler{}, buckets: map[string]string{},
		storageFault: make(chan error, 1),
	}
	i.refusals = frontdoor.NewRefusals(i.log)
	i.refusals.Clock = i.clock
	i.procReg.MustRegister(i.refusals.Collector())
	return i
}

// serve opens the listeners, announces readiness and waits for ctx.
func (i *instance) serve(ctx context.Context) error {
	control, err := i.listen("control", i.cfg.ControlAddr, i.controlRoutes(), frontdoor.ControlJSON, nil)
	if err != nil {
		return err
	}
	i.onStop(func() { control.Close() })

	eps := Endpoints{Control: "http://" + control.Addr.String(), StateDir: i.stateDir, Buckets: i.buckets, PID: os.Getpid()}
	var apiSrv *frontdoor.Server
	if len(i.api) > 0 {
		apiSrv, err = i.listen("kinesis", i.cfg.KinesisAddr, i.targetRouter(), frontdoor.AWSJSON, nil)
		if err != nil {
			return err
		}
		eps.Kinesis = "http://" + apiSrv.Addr.String()
		if i.cfg.KinesisTLSAddr != "" {
			tlsSrv, err := i.serveTLS(&eps)
			if err != nil {
				apiSrv.Close()
				return err
			}
			i.onStop(func() { tlsSrv.Close() })
		}
	} else {
		eps.Kinesis = i.cfg.KinesisEndpoint
	}
	i.endpoints = eps
	epsPath := filepath.Join(i.stateDir, "endpoints.json")
	data, _ := json.MarshalIndent(eps, "", "  ")
	if err := os.WriteFile(epsPath, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", epsPath, err)
	}
	i.onStop(func() { os.Remove(epsPath) })
	fmt.Fprintln(i.cfg.Stdout, readyLine(eps))
	fmt.Fprintln(i.cfg.Stdout, loginLine(eps.Control, i.token))

	<-ctx.Done()
	i.log.Info("shutting down: draining in-flight batches and flushing buffers")
	if apiSrv != nil {
		// Stop taking records first; in-flight requests finish.
		sctx, cancel := clock.WithTimeout(context.Background(), i.clock, 2*time.Second)
		_ = apiSrv.Shutdown(sctx)
		cancel()
	}
	return nil
}

// listen serves handler on addr behind the front door
// (internal/frontdoor): the same connection caps, timeouts, HTTP/2 stream
// cap and Host check on every listener, so none is forgotten. shape words
// its refusals in the listener's own error format; tlsCfg, if set, serves
// HTTPS.
func (i *instance) listen(name, addr string, handler http.Handler, shape frontdoor.Shape, tlsCfg *tls.Config) (*frontdoor.Server, error) {
	srv, err := frontdoor.Listen(frontdoor.Options{
		Name: name, Addr: addr, Handler: handler, Shape: shape, TLS: tlsCfg,
		Limits: listenLimits(i.cfg.Listen), AllowedHosts: i.cfg.Listen.AllowedHosts,
		Refusals: i.refusals, Log: i.log,
	})
	if err != nil {
		return nil, err
	}
	warnExposed(i.log, name, srv.Addr.String(), len(i.cfg.VerifySigV4) > 0)
	return srv, nil
}

// listenLimits carries the configured limits to the front door (zero
// fields take its defaults).
func listenLimits(l ListenLimits) frontdoor.Limits {
	return frontdoor.Limits{
		ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout,
		MaxConnsPerClient: l.MaxConnsPerClient, MaxConns: l.MaxConns,
		MaxHTTP2Streams: l.MaxHTTP2Streams,
	}
}

// controlRoutes is the control handler with its long requests let out of
// the listener's timeouts: a deploy builds functions and a redrive streams
// its progress, both for longer than WriteTimeout, and over HTTP/1.1 a
// passing ReadTimeout would cancel them. Their bodies are still read under
// the timeouts (frontdoor.LongRunning), and they need the control token.
func (i *instance) controlRoutes() http.Handler {
	h := i.controlHandler()
	long := frontdoor.LongRunning(h, maxControlBody, frontdoor.ControlJSON)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (r.URL.Path == "/deploy" || r.URL.Path == "/redrive") {
			long.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// maxControlBody is what the control API reads of a request body (deploy
// and redrive read at most 1 MiB).
const maxControlBody = 1 << 20

// exposures say what a listener gives to whoever reaches it, for the
// warning about listeners bound beyond loopback.
var exposures = map[string]string{
	"kinesis":     "the Kinesis and Firehose APIs: anyone who reaches it can create, write, read and delete streams and write to delivery streams",
	"kinesis-tls": "the Kinesis and Firehose APIs over TLS: anyone who reaches it can create, write, read and delete streams and write to delivery streams",
	"control":     "the control API: /healthz and /metrics to anyone who reaches it, everything else (status, profiles, deploy, redrive) to holders of the control token",
}

// warnExposed logs a warning when a listener is bound to an address other
// machines can reach, naming what it exposes and whether requests must be
// signed. It reports whether it warned.
func warnExposed(log *slog.Logger, name, addr string, sigv4 bool) bool {
	if frontdoor.IsLoopback(addr) {
		return false
	}
	what := exposures[name]
	if what == "" {
		what = "the " + name + " listener"
	}
	auth := "SigV4 signatures are NOT verified (start with --verify-sigv4 ACCESS_KEY:SECRET to require them)"
	switch {
	case name == "control":
		auth = "SigV4 does not apply to it"
	case sigv4:
		auth = "SigV4 signatures are verified (--verify-sigv4): unsigned and wrongly signed requests are refused"
	}
	log.Warn(fmt.Sprintf("%s listener bound to %s, reachable from other machines: it serves %s; %s", name, addr, what, auth),
		"listener", name, "addr", addr, "sigv4_verified", sigv4)
	return true
}

// loginLine tells a person how to open the control console in a browser:
// /login takes the token once and keeps it in a cookie. Printed after the
// ready line, which tools parse and which stays as it was.
// A control address bound to every interface (0.0.0.0) is shown as
// 127.0.0.1, which a browser on this machine can open.
func loginLine(control, token string) string {
	if u, err := url.Parse(control); err == nil {
		if host, port, err := net.SplitHostPort(u.Host); err == nil {
			if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
				u.Host = net.JoinHostPort("127.0.0.1", port)
				control = u.String()
			}
		}
	}
	return fmt.Sprintf("control: open %s/login?token=%s in a browser (the token is kept in a cookie)", control, token)
}

func readyLine(eps Endpoints) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ready kinesis=%s control=%s", eps.Kinesis, eps.Control)
	if eps.KinesisTLS != "" {
		fmt.Fprintf(&b, " kinesis-tls=%s", eps.KinesisTLS)
	}
	for _, name := range sortedKeys(eps.Buckets) {
		fmt.Fprintf(&b, " bucket:%s=%s", name, eps.Buckets[name])
	}
	return b.String()
}

func newLogger(cfg Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewTextHandler(cfg.Stderr, &slog.HandlerOptions{Level: level}))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
