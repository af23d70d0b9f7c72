package app

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/template"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
	kinesistrigger "github.com/sluice-dev/sluice/triggers/kinesis"
)

// mappingNamespace scopes mapping UUIDs: a mapping's UUID is derived from
// its function, event and stream, so it stays the same across restarts and
// its checkpoints are found again.
var mappingNamespace = uuid.MustParse("6f0e3c4e-8d1a-4a57-9a57-5b1d6c0f2a11")

// MappingID returns the stable UUID of a function's Kinesis event.
func MappingID(fn template.Function, ev template.KinesisEvent) string {
	return uuid.NewSHA1(mappingNamespace, []byte(fn.LogicalID+"/"+ev.Name+"/"+ev.Stream)).String()
}

type mappingStage struct {
	checkpoints checkpoint.Store
	metrics     *kinesistrigger.Metrics
	running     []*kinesistrigger.Mapping
}

// startMappings creates one event-source mapping per enabled Kinesis event
// of the generation's functions and runs them. They stop before the
// delivery streams flush, because a generation stops in reverse order.
func (g *generation) startMappings(ctx context.Context) error {
	p := g.proc
	cps, err := checkpoint.Open("file", filepath.Join(p.stateDir, "checkpoints"))
	if err != nil {
		return err
	}
	g.onStop(func() { cps.Close() })
	g.mappings = mappingStage{checkpoints: cps, metrics: kinesistrigger.NewMetrics()}
	g.reg.MustRegister(g.mappings.metrics.Collectors()...)

	for _, id := range sortedKeys(g.funcs.loaded) {
		lf := g.funcs.loaded[id]
		var sink handover.Acceptor // stays a nil interface when there is none
		if d := g.delivery.streams[lf.tmpl.DeliveryStream]; d != nil {
			sink = faultReporting{d, p.reportStorageFault}
		}
		for _, ev := range lf.tmpl.Events {
			if !ev.Enabled {
				continue
			}
			cfg := kinesistrigger.Config{
				ID:                        MappingID(lf.tmpl, ev),
				FunctionName:              lf.tmpl.Name,
				StreamName:                ev.Stream,
				BatchSize:                 ev.BatchSize,
				MaximumBatchingWindow:     ev.MaximumBatchingWindow,
				StartingPosition:          ev.StartingPosition,
				StartingPositionTimestamp: ev.StartingPositionTimestamp,

				BisectBatchOnFunctionError: ev.BisectBatchOnFunctionError,
				MaximumRetryAttempts:       ev.MaximumRetryAttempts,
				RetryAttemptsSet:           true, // the plan already applied the -1 default
				MaximumRecordAge:           ev.MaximumRecordAge,
				ReportBatchItemFailures:    slices.Contains(ev.FunctionResponseTypes, "ReportBatchItemFailures"),
				OnFailureBucket:            ev.OnFailureBucket,
				ParallelizationFactor:      ev.ParallelizationFactor,
				FilterPatterns:             ev.FilterPatterns,
				TumblingWindow:             ev.TumblingWindow,
			}
			if _, listed := p.buckets[ev.OnFailureBucket]; ev.OnFailureBucket != "" && !listed {
				// Failure records land in the same object store as the
				// delivery streams' objects, so `sluice up` lists the bucket
				// and `sluice redrive` finds it. (A bucket declared in the
				// template is already listed, with its S3 location if any.)
				p.buckets[ev.OnFailureBucket] = g.delivery.where(ev.OnFailureBucket)
			}
			opts := kinesistrigger.Options{Logger: p.log, Metrics: g.mappings.metrics, OnFailure: failureObjects{put: g.delivery.store}, Clock: p.clock}
			if ev.Consumer != "" {
				if cfg.ConsumerARN, opts.Subscriber, err = g.fanOut(ctx, ev.Stream, ev.Consumer); err != nil {
					return fmt.Errorf("function %s event %s: %w", id, ev.Name, err)
				}
			}
			m, err := kinesistrigger.New(cfg, p.stream.reader, lf.fn, sink, cps, opts)
			if err != nil {
				return fmt.Errorf("function %s event %s: %w", id, ev.Name, err)
			}
			g.mappings.running = append(g.mappings.running, m)
		}
	}
	g.run(ctx, "mapping", g.mappings.running)
	return g.waitPositioned(ctx, g.mappings.running)
}

// run runs the mappings until the generation stops; stopping waits for
// each to finish its in-flight batch.
func (g *generation) run(ctx context.Context, what string, ms []*kinesistrigger.Mapping) {
	// Not cancelled with ctx: a deploy's request context ends with its
	// answer, the generation runs on.
	mctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			if err := m.Run(mctx); err != nil {
				g.proc.log.Error(what+" stopped", "mapping", m.Config().ID, "err", err)
			}
		})
	}
	g.onStop(func() { stop(); wg.Wait() })
}

// waitPositioned returns once every mapping has a read position on each
// shard it found, so that `ready` (and a deploy's success) means a record
// put from then on is read, even by a mapping that starts at LATEST. It
// says what it waits for when that takes long (an unreachable external
// Kinesis), and gives up only when ctx ends.
func (g *generation) waitPositioned(ctx context.Context, ms []*kinesistrigger.Mapping) error {
	const patience = 5 * time.Second
	for _, m := range ms {
		t := g.proc.clock.NewTimer(patience)
		select {
		case <-m.Positioned():
		case <-t.Chan():
			g.proc.log.Warn("waiting for a mapping to take its position on every shard", "mapping", m.Config().ID,
				"function", m.Config().FunctionName, "stream", m.Config().StreamName)
			select {
			case <-m.Positioned():
			case <-ctx.Done():
				return fmt.Errorf("mapping %s on stream %s: no read position yet: %w", m.Config().ID, m.Config().StreamName, ctx.Err())
			}
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("mapping %s on stream %s: no read position yet: %w", m.Config().ID, m.Config().StreamName, ctx.Err())
		}
		t.Stop()
	}
	return nil
}
