package app

import (
	"context"
	"net/http"

	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/prometheus/client_golang/prometheus"

	firehoseapi "github.com/sluice-dev/sluice/sinks/firehose/api"
	"github.com/sluice-dev/sluice/template"
)

// A generation is one version of the pipeline: the functions, delivery
// streams and event-source mappings of one plan. The process-level parts
// (the embedded stream and its data, the listeners, the function log
// files) outlive generations; `sluice deploy`, `up --watch` and the
// storage supervisor replace the generation, and the durable state carries
// over through the disk: the mappings' checkpoints and the delivery
// streams' write-ahead logs.
//
// Its life has three steps:
//
//   - provision builds and loads the functions. It is the step that fails
//     on bad code, and it touches nothing that runs, so a deploy does it
//     while the running generation still serves.
//   - start opens the delivery streams from their logs and starts the
//     mappings from their checkpoints; it returns once every mapping has a
//     read position. On error it stops what it started.
//   - stop drains the mappings (their in-flight batches finish), flushes
//     and closes the delivery streams and closes whatever else start
//     opened, in reverse order. A stopped generation keeps its functions
//     and can start again: a failed deploy rolls back by restarting the
//     generation it retired.
//
// Every step runs under the instance's genMu.
type generation struct {
	proc *instance      // configuration, the stream, log files, buckets
	plan *template.Plan // what it runs
	// code is the hash of each function's code when it was provisioned:
	// what a deploy diffs against, and what redrive checks a caller's code
	// against.
	code map[string]string
	// number counts the generations the instance started, this one
	// included, as of its last start: `sluice status` and deploy show it.
	number int

	funcs functionStage // from provision: kept across stop and start

	// Set by start, released by stop.
	reg      *prometheus.Registry // this start's metrics, served beside the process's
	delivery deliveryStage
	mappings mappingStage
	firehose http.Handler       // the Firehose API of its delivery streams
	sdk      *awskinesis.Client // the embedded stream's API for its fan-out consumers
	stops    []func()
}

// provision builds and loads plan's functions into a new generation.
func (i *instance) provision(ctx context.Context, plan *template.Plan) (*generation, error) {
	g := &generation{proc: i, plan: plan, code: codeHashes(plan)}
	load := i.loadFuncs
	if load == nil {
		load = i.loadFunctions
	}
	funcs, err := load(ctx, plan)
	if err != nil {
		return nil, err
	}
	g.funcs = funcs
	return g, nil
}

// start opens the delivery streams, then starts the mappings that feed
// them. On error everything it started is stopped again.
func (g *generation) start(ctx context.Context) error {
	g.reg = prometheus.NewRegistry()
	for _, step := range []func(context.Context) error{
		g.openDeliveryStreams,
		g.startMappings,
	} {
		if err := step(ctx); err != nil {
			g.stop()
			return err
		}
	}
	return nil
}

// stop drains and closes everything start started, in reverse order: the
// mappings after their in-flight batches, then the delivery streams,
// which flush. It is safe after a partial start and on a stopped
// generation.
func (g *generation) stop() {
	for k := len(g.stops) - 1; k >= 0; k-- {
		g.stops[k]()
	}
	g.stops = nil
	g.mappings.running = nil
	g.delivery.streams = nil
}

// onStop adds a clean-up for stop.
func (g *generation) onStop(f func()) { g.stops = append(g.stops, f) }

// activate starts g and makes it the running generation. Requests on the
// API port wait (apiMu) until its Firehose API is in place, so none reaches
// a delivery stream that is not open.
func (i *instance) activate(ctx context.Context, g *generation) error {
	i.apiMu.Lock()
	defer i.apiMu.Unlock()
	if err := g.start(ctx); err != nil {
		return err
	}
	i.api[firehoseapi.TargetPrefix] = g.firehose
	i.started++
	g.number = i.started
	i.gen = g
	i.genReg.Store(g.reg)
	return nil
}

// swap retires the running generation for next, which is provisioned: the
// running one drains and flushes, the change set's stream changes are
// applied, and next starts from the same checkpoints and logs. If that
// fails (err), the retired generation starts again, with the functions it
// had; rollbackErr says that failed too, and then nothing runs.
func (i *instance) swap(ctx context.Context, next *generation, changes []template.Change) (err, rollbackErr error) {
	prev := i.gen
	i.log.Info("deploy: draining the running pipeline", "generation", prev.number)
	prev.stop()
	err = i.applyStreams(ctx, changes, next.plan)
	if err == nil {
		// The generation outlives the request that deployed it.
		err = i.activate(context.WithoutCancel(ctx), next)
	}
	if err == nil {
		return nil, nil
	}
	i.log.Error("deploy failed; rolling back", "err", err)
	return err, i.activate(context.WithoutCancel(ctx), prev)
}
