package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

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
// file (stream.go, functions.go, delivery.go, mappings.go, control.go) and
// adds what it started to the instance, with its clean-up.
//
// The process-level parts (the embedded stream, the listeners) start once.
// The pipeline — functions, delivery streams, mappings — runs as a
// generation that `sluice deploy` and `up --watch` replace: the old
// generation drains and flushes, the new one resumes from the durable
// checkpoints and write-ahead logs, so a redeploy loses nothing.
type instance struct {
	cfg      Config
	log      *slog.Logger
	plan     *template.Plan
	stateDir string
	// reg is the registry the current stage registers with: the process
	// registry for process-level stages, a fresh one per generation.
	reg     *prometheus.Registry
	procReg *prometheus.Registry
	genReg  atomic.Pointer[prometheus.Registry]

	// cleanups run in reverse order of start-up; each is safe after a
	// partial start. Stages append with onStop.
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

	stream   streamStage
	delivery deliveryStage
	funcs    functionStage
	mappings mappingStage

	// gen is the running pipeline generation's clean-up; genMu serialises
	// deploys.
	genMu      sync.Mutex
	genCleanup []func()
	generation int
	genCode    map[string]string // code hashes of the running generation
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

	i := &instance{
		cfg: cfg, log: newLogger(cfg), plan: plan, stateDir: stateDir, token: token,
		procReg: prometheus.NewRegistry(), api: map[string]http.Handler{}, buckets: map[string]string{},
		storageFault: make(chan error, 1),
	}
	i.reg = i.procReg
	i.refusals = frontdoor.NewRefusals(i.log)
	i.procReg.MustRegister(i.refusals.Collector())
	defer func() {
		i.genMu.Lock() // a deploy or a storage recovery may be starting one
		i.stopGeneration()
		i.genMu.Unlock()
		for k := len(i.cleanups) - 1; k >= 0; k-- {
			i.cleanups[k]()
		}
		i.logs.close()
	}()
	i.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := i.startStream(ctx); err != nil {
		return err
	}
	if err := i.startGeneration(ctx, plan); err != nil {
		return err
	}
	if cfg.Watch {
		go i.watch(ctx)
	}
	go i.superviseStorage(ctx)
	return i.serve(ctx)
}

// startGeneration builds and starts the pipeline of plan: functions first
// (a build error stops us before anything changes), then delivery streams,
// then mappings. On error everything it started is stopped again.
func (i *instance) startGeneration(ctx context.Context, plan *template.Plan) error {
	i.apiMu.Lock()
	defer i.apiMu.Unlock()
	procCleanups := i.cleanups
	i.cleanups = nil
	i.reg = prometheus.NewRegistry()
	i.plan = plan
	defer func() {
		i.genCleanup = i.cleanups
		i.cleanups = procCleanups
		i.reg = i.procReg
	}()
	for _, stage := range []func(context.Context) error{
		i.loadFunctions,
		i.openDeliveryStreams,
		i.startMappings,
	} {
		if err := stage(ctx); err != nil {
			for k := len(i.cleanups) - 1; k >= 0; k-- {
				i.cleanups[k]()
			}
			i.cleanups = nil
			return err
		}
	}
	i.genReg.Store(i.reg)
	i.genCode = codeHashes(plan)
	i.generation++
	return nil
}

// stopGeneration drains the running pipeline: mappings stop after their
// in-flight batches, delivery streams flush.
func (i *instance) stopGeneration() {
	for k := len(i.genCleanup) - 1; k >= 0; k-- {
		i.genCleanup[k]()
	}
	i.genCleanup = nil
}

// serve opens the listeners, announces readiness and waits for ctx.
func (i *instance) serve(ctx context.Context) error {
	control, err := net.Listen("tcp", i.cfg.ControlAddr)
	if err != nil {
		return fmt.Errorf("control address: %w", err)
	}
	controlSrv := &http.Server{Handler: i.controlHandler(), ReadHeaderTimeout: 10 * time.Second}
	go controlSrv.Serve(control)
	i.onStop(func() { controlSrv.Close() })

	eps := Endpoints{Control: "http://" + control.Addr().String(), StateDir: i.stateDir, Buckets: i.buckets, PID: os.Getpid()}
	var apiSrv *http.Server
	if len(i.api) > 0 {
		l, err := net.Listen("tcp", i.cfg.KinesisAddr)
		if err != nil {
			return fmt.Errorf("kinesis address: %w", err)
		}
		apiSrv = &http.Server{Handler: i.targetRouter(), ReadHeaderTimeout: 10 * time.Second}
		go apiSrv.Serve(l)
		eps.Kinesis = "http://" + l.Addr().String()
		if i.cfg.KinesisTLSAddr != "" {
			tlsSrv, err := i.serveTLS(&eps)
			if err != nil {
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

	<-ctx.Done()
	i.log.Info("shutting down: draining in-flight batches and flushing buffers")
	if apiSrv != nil {
		// Stop taking records first; in-flight requests finish.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = apiSrv.Shutdown(sctx)
		cancel()
	}
	return nil
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
