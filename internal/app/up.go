package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sinks"
	"github.com/sluice-dev/sluice/sinks/firehose"
	"github.com/sluice-dev/sluice/sinks/localdir"
	"github.com/sluice-dev/sluice/streams"
	"github.com/sluice-dev/sluice/template"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
	kinesistrigger "github.com/sluice-dev/sluice/triggers/kinesis"
)

// Endpoints is what `sluice up` prints on its ready line and writes to
// <state-dir>/endpoints.json, for tools and tests to find it.
type Endpoints struct {
	Kinesis  string            `json:"kinesis"`
	Control  string            `json:"control"`
	StateDir string            `json:"stateDir"`
	Buckets  map[string]string `json:"buckets"` // bucket name → directory
	PID      int               `json:"pid"`
}

// mappingNamespace scopes mapping UUIDs: a mapping's UUID is derived from
// its function, event and stream, so it stays the same across restarts and
// its checkpoints are found again.
var mappingNamespace = uuid.MustParse("6f0e3c4e-8d1a-4a57-9a57-5b1d6c0f2a11")

// MappingID returns the stable UUID of a function's Kinesis event.
func MappingID(fn template.Function, ev template.KinesisEvent) string {
	return uuid.NewSHA1(mappingNamespace, []byte(fn.LogicalID+"/"+ev.Name+"/"+ev.Stream)).String()
}

// Up runs the template until ctx is cancelled, then drains in-flight
// batches, flushes every delivery stream buffer and returns.
func Up(ctx context.Context, cfg Config) (err error) {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg)
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

	// Clean-up runs in reverse order of start-up; every step is safe after a
	// partial start.
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Functions first: a build error should stop us before anything listens.
	fns := map[string]runFunction{}
	for _, fn := range plan.Functions {
		if len(fn.Events) == 0 {
			continue
		}
		f, err := LoadFunction(ctx, plan, fn, cfg.CacheDir, cfg.Stderr)
		if err != nil {
			return err
		}
		fns[fn.LogicalID] = runFunction{tmpl: fn, fn: f}
	}

	// The stream.
	var engine *streams.Engine
	var reader kinesistrigger.Reader
	if cfg.KinesisEndpoint != "" {
		if reader, err = externalKinesis(ctx, cfg.KinesisEndpoint); err != nil {
			return err
		}
		log.Info("mappings read from an existing Kinesis", "endpoint", cfg.KinesisEndpoint)
	} else {
		engine, err = streams.Open(filepath.Join(stateDir, "streams"), streams.Options{Limits: cfg.Limits == "on", Logger: log})
		if err != nil {
			return fmt.Errorf("embedded stream: %w", err)
		}
		cleanups = append(cleanups, func() {
			if err := engine.Close(); err != nil {
				log.Error("closing stream", "err", err)
			}
		})
		for _, s := range plan.Streams {
			if err := engine.CreateStream(ctx, s.Name, s.ShardCount); err != nil && !errors.Is(err, streams.ErrStreamExists) {
				return fmt.Errorf("creating stream %s: %w", s.Name, err)
			}
		}
		reg.MustRegister(engine.Collectors()...)
		reader = engine.Client()
	}

	// Delivery streams.
	bucketsDir := filepath.Join(stateDir, "buckets")
	store, err := localdir.New(bucketsDir, filepath.Join(stateDir, "tmp"), filepath.Join(stateDir, "objects-meta"))
	if err != nil {
		return fmt.Errorf("bucket directory: %w", err)
	}
	buckets := map[string]string{}
	for _, b := range plan.Buckets {
		buckets[b.Name] = filepath.Join(bucketsDir, b.Name)
	}
	delivery := map[string]*firehose.DeliveryStream{}
	for _, ds := range plan.DeliveryStreams {
		d, err := firehose.Open(firehoseConfig(ds), firehose.Options{
			StateDir:          filepath.Join(stateDir, "delivery", ds.Name),
			Destination:       store,
			MaxBufferInterval: cfg.MaxBufferInterval,
			Logger:            log.With("delivery_stream", ds.Name),
		})
		if err != nil {
			return fmt.Errorf("delivery stream %s: %w", ds.Name, err)
		}
		cleanups = append(cleanups, func() {
			// Shutdown flushes every buffer: give it its own deadline.
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := d.Close(fctx); err != nil {
				log.Error("closing delivery stream", "name", ds.Name, "err", err)
			}
		})
		reg.MustRegister(d.Collectors()...)
		delivery[ds.LogicalID] = d
		buckets[ds.Bucket] = filepath.Join(bucketsDir, ds.Bucket)
	}

	// Event-source mappings.
	cps, err := checkpoint.Open("file", filepath.Join(stateDir, "checkpoints"))
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { cps.Close() })
	metrics := kinesistrigger.NewMetrics()
	reg.MustRegister(metrics.Collectors()...)
	var mappings []*kinesistrigger.Mapping
	for _, id := range sortedKeys(fns) {
		rf := fns[id]
		var sink sinks.Acceptor // stays a nil interface when there is none
		if d := delivery[rf.tmpl.DeliveryStream]; d != nil {
			sink = d
		}
		for _, ev := range rf.tmpl.Events {
			if !ev.Enabled {
				continue
			}
			mcfg := kinesistrigger.Config{
				ID:                        MappingID(rf.tmpl, ev),
				FunctionName:              rf.tmpl.Name,
				StreamName:                ev.Stream,
				BatchSize:                 ev.BatchSize,
				MaximumBatchingWindow:     ev.MaximumBatchingWindow,
				StartingPosition:          ev.StartingPosition,
				StartingPositionTimestamp: ev.StartingPositionTimestamp,
			}
			m, err := kinesistrigger.New(mcfg, reader, rf.fn, sink, cps, kinesistrigger.Options{Logger: log, Metrics: metrics})
			if err != nil {
				return fmt.Errorf("function %s event %s: %w", id, ev.Name, err)
			}
			mappings = append(mappings, m)
		}
	}

	// Listeners last: only a fully started pipeline accepts records.
	control, err := net.Listen("tcp", cfg.ControlAddr)
	if err != nil {
		return fmt.Errorf("control address: %w", err)
	}
	controlSrv := &http.Server{Handler: controlHandler(reg), ReadHeaderTimeout: 10 * time.Second}
	go controlSrv.Serve(control)
	cleanups = append(cleanups, func() { controlSrv.Close() })

	mctx, stopMappings := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, m := range mappings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Run(mctx); err != nil {
				log.Error("mapping stopped", "mapping", m.Config().ID, "err", err)
			}
		}()
	}
	// Mappings stop before the sinks flush (cleanups run in reverse).
	cleanups = append(cleanups, func() { stopMappings(); wg.Wait() })

	eps := Endpoints{Control: "http://" + control.Addr().String(), StateDir: stateDir, Buckets: buckets, PID: os.Getpid()}
	var kinesisSrv *http.Server
	if engine != nil {
		kl, err := net.Listen("tcp", cfg.KinesisAddr)
		if err != nil {
			return fmt.Errorf("kinesis address: %w", err)
		}
		kinesisSrv = &http.Server{Handler: engine.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go kinesisSrv.Serve(kl)
		eps.Kinesis = "http://" + kl.Addr().String()
	} else {
		eps.Kinesis = cfg.KinesisEndpoint
	}
	epsPath := filepath.Join(stateDir, "endpoints.json")
	data, _ := json.MarshalIndent(eps, "", "  ")
	if err := os.WriteFile(epsPath, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", epsPath, err)
	}
	cleanups = append(cleanups, func() { os.Remove(epsPath) })
	fmt.Fprintln(cfg.Stdout, readyLine(eps))

	<-ctx.Done()
	log.Info("shutting down: draining in-flight batches and flushing buffers")
	if kinesisSrv != nil {
		// Stop taking records first; in-flight PutRecords finish.
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = kinesisSrv.Shutdown(sctx)
		cancel()
	}
	return nil
}

type runFunction struct {
	tmpl template.Function
	fn   runtime.Invoker
}

func readyLine(eps Endpoints) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ready kinesis=%s control=%s", eps.Kinesis, eps.Control)
	for _, name := range sortedKeys(eps.Buckets) {
		fmt.Fprintf(&b, " bucket:%s=%s", name, eps.Buckets[name])
	}
	return b.String()
}

func controlHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})
	return mux
}

func firehoseConfig(ds template.DeliveryStream) firehose.Config {
	return firehose.Config{
		Name:                    ds.Name,
		Bucket:                  ds.Bucket,
		Prefix:                  ds.Prefix,
		ErrorOutputPrefix:       ds.ErrorOutputPrefix,
		BufferSize:              int64(ds.BufferSizeMB) << 20,
		BufferInterval:          ds.BufferInterval,
		MetadataExtractionQuery: ds.MetadataExtractionQuery,
		DynamicPartitioning:     ds.DynamicPartitioning,
		AppendDelimiter:         ds.AppendDelimiter,
		Compression:             ds.Compression,
		CustomTimeZone:          ds.CustomTimeZone,
		FileExtension:           ds.FileExtension,
	}
}

// externalKinesis is a client for an existing Kinesis: real AWS through the
// standard credential chain when endpoint is "aws", else any
// Kinesis-compatible endpoint, with the chain's credentials when it has
// some and dummy ones otherwise (local emulators accept any).
func externalKinesis(ctx context.Context, endpoint string) (*awskinesis.Client, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	if endpoint == "aws" {
		return awskinesis.NewFromConfig(awsCfg), nil
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		awsCfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	return awskinesis.NewFromConfig(awsCfg, func(o *awskinesis.Options) { o.BaseEndpoint = aws.String(endpoint) }), nil
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
