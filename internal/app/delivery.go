package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/sinks/dest"
	"github.com/sluice-dev/sluice/sinks/firehose"
	firehoseapi "github.com/sluice-dev/sluice/sinks/firehose/api"
	"github.com/sluice-dev/sluice/sinks/localdir"
	"github.com/sluice-dev/sluice/sinks/s3"
	"github.com/sluice-dev/sluice/template"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
	kinesistrigger "github.com/sluice-dev/sluice/triggers/kinesis"
)

// deliveryStage holds the delivery streams and the object store they write.
type deliveryStage struct {
	store   dest.Destination
	streams map[string]*firehose.DeliveryStream // by logical ID
	// where tells where the store keeps a bucket: a directory, or an
	// s3:// location under --s3-endpoint (listed in endpoints.json).
	where func(bucket string) string
}

// openDeliveryStreams opens the generation's delivery streams from their
// write-ahead logs, their Firehose API, and the mappings that feed those
// with a Kinesis stream as source.
func (g *generation) openDeliveryStreams(ctx context.Context) error {
	p := g.proc
	store, where, err := objectStore(ctx, p.cfg, p.stateDir, g.plan)
	if err != nil {
		return err
	}
	g.delivery = deliveryStage{store: store, streams: map[string]*firehose.DeliveryStream{}, where: where}
	for _, b := range g.plan.Buckets {
		p.buckets[b.Name] = where(b.Name)
	}
	for _, ds := range g.plan.DeliveryStreams {
		opts := deliveryOptions(p.cfg, p.stateDir, ds, store, p.log)
		if ds.TransformFunction != "" {
			// Only functions with Kinesis events are loaded today; a
			// transformation-only function needs loadFunctions to load it.
			if lf, ok := g.funcs.loaded[ds.TransformFunction]; ok {
				opts.Transform = lf.fn.Invoke
			} else {
				p.log.Warn("transformation function is not loaded; records are delivered untransformed",
					"delivery_stream", ds.Name, "function", ds.TransformFunction)
			}
		}
		d, err := firehose.Open(firehoseConfig(ds), opts)
		if err != nil {
			return fmt.Errorf("delivery stream %s: %w", ds.Name, err)
		}
		g.onStop(func() {
			// Shutdown flushes every buffer: give it its own deadline.
			fctx, cancel := clock.WithTimeout(context.Background(), p.clock, 5*time.Second)
			defer cancel()
			if err := d.Close(fctx); err != nil {
				p.log.Error("closing delivery stream", "name", ds.Name, "err", err)
			}
		})
		g.reg.MustRegister(d.Collectors()...)
		g.delivery.streams[ds.LogicalID] = d
		p.buckets[ds.Bucket] = where(ds.Bucket)
	}
	g.firehose = g.firehoseAPI()
	return g.startStreamSources(ctx)
}

// firehoseAPI serves PutRecord / PutRecordBatch / DescribeDeliveryStream /
// ListDeliveryStreams for this generation's delivery streams on the API
// port (routed by X-Amz-Target).
func (g *generation) firehoseAPI() *firehoseapi.Handler {
	now := g.proc.clock.Now()
	byName := map[string]firehoseapi.Stream{}
	for _, ds := range g.plan.DeliveryStreams {
		s := firehoseapi.Stream{DS: g.delivery.streams[ds.LogicalID], Created: now}
		if ds.SourceStream != "" {
			s.SourceStreamARN = "arn:aws:kinesis:us-east-1:000000000000:stream/" + ds.SourceStream
		}
		byName[ds.Name] = s
	}
	return firehoseapi.New("us-east-1", "000000000000", byName)
}

// startStreamSources reads the source stream of every KinesisStreamAsSource
// delivery stream (docs/semantics.md, "Kinesis stream as Firehose source")
// with an event-source mapping whose "function" passes each record through
// unchanged. Its checkpoints are durable: the delivery stream logs each batch
// with the checkpoint it completes, so a restart resumes where delivery left
// off. It starts at LATEST, as Firehose does at creation.
func (g *generation) startStreamSources(ctx context.Context) error {
	p := g.proc
	var sourced []template.DeliveryStream
	for _, ds := range g.plan.DeliveryStreams {
		if ds.SourceStream != "" {
			sourced = append(sourced, ds)
		}
	}
	if len(sourced) == 0 {
		return nil
	}
	if p.stream.reader == nil {
		return errors.New("KinesisStreamAsSource delivery streams need a stream to read")
	}
	cps, err := checkpoint.Open("file", filepath.Join(p.stateDir, "checkpoints-firehose"))
	if err != nil {
		return err
	}
	g.onStop(func() { cps.Close() })
	var ms []*kinesistrigger.Mapping
	for _, ds := range sourced {
		cfg := kinesistrigger.Config{
			ID:               uuid.NewSHA1(mappingNamespace, []byte("firehose/"+ds.Name+"/"+ds.SourceStream)).String(),
			FunctionName:     "firehose:" + ds.Name,
			StreamName:       ds.SourceStream,
			BatchSize:        10000,
			StartingPosition: "LATEST",
		}
		// The trigger's metrics are registered once, by the mappings stage;
		// these mappings keep their own, unregistered.
		m, err := kinesistrigger.New(cfg, p.stream.reader, passthrough{}, g.delivery.streams[ds.LogicalID], cps,
			kinesistrigger.Options{Logger: p.log, Clock: p.clock})
		if err != nil {
			return fmt.Errorf("delivery stream %s source %s: %w", ds.Name, ds.SourceStream, err)
		}
		ms = append(ms, m)
	}
	// Stopped before the delivery streams' Close, registered earlier.
	g.run(ctx, "delivery stream source", ms)
	// They start at LATEST: a record put after `ready` must be read.
	return g.waitPositioned(ctx, ms)
}

// objectStore opens the buckets: the local directory by default, S3 (or an
// S3-compatible store) with --s3-endpoint, creating the plan's buckets
// there when they are missing. where says where a bucket's objects land,
// for endpoints.json.
func objectStore(ctx context.Context, cfg Config, stateDir string, plan *template.Plan) (dest.Destination, func(string) string, error) {
	if ep := cfg.S3Endpoint; ep != "" {
		store, err := s3.New(ctx, s3.Config{Endpoint: ep})
		if err != nil {
			return nil, nil, fmt.Errorf("object store %s: %w", ep, err)
		}
		seen := map[string]bool{}
		var names []string
		for _, b := range plan.Buckets {
			names = append(names, b.Name)
		}
		for _, ds := range plan.DeliveryStreams {
			names = append(names, ds.Bucket)
		}
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			if err := store.EnsureBucket(ctx, n); err != nil {
				return nil, nil, fmt.Errorf("object store %s: %w", ep, err)
			}
		}
		base := strings.TrimSuffix(ep, "/")
		if (s3.Config{Endpoint: ep}).AWS() {
			base = "s3:/"
		}
		return store, func(b string) string { return base + "/" + b }, nil
	}
	bucketsDir := filepath.Join(stateDir, "buckets")
	store, err := localdir.New(bucketsDir, filepath.Join(stateDir, "tmp"), filepath.Join(stateDir, "objects-meta"))
	if err != nil {
		return nil, nil, fmt.Errorf("bucket directory: %w", err)
	}
	return store, func(b string) string { return filepath.Join(bucketsDir, b) }, nil
}

// deliveryOptions open a delivery stream of the state dir, the same way
// for `sluice up` and a direct redrive, which recovers the same log.
func deliveryOptions(cfg Config, stateDir string, ds template.DeliveryStream, store dest.Destination, log *slog.Logger) firehose.Options {
	return firehose.Options{
		StateDir:          filepath.Join(stateDir, "delivery", ds.Name),
		Destination:       store,
		MaxBufferInterval: cfg.MaxBufferInterval,
		MaxLogBytes:       cfg.MaxLogBytes,
		Logger:            log, // the delivery stream tags its own lines
		Clock:             cfg.Clock,
	}
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
		SubRecordType:           ds.SubRecordType,
		Delimiter:               ds.Delimiter,
		// Firehose de-aggregates KPL records read from a Kinesis stream.
		DeaggregateKPL: ds.SourceStream != "",
		Compression:    ds.Compression,
		CustomTimeZone: ds.CustomTimeZone,
		FileExtension:  ds.FileExtension,
		Conversion:     conversion(ds),
	}
}

// conversion maps the plan's format conversion (schema already read from
// the template's Glue table) to the delivery stream's.
func conversion(ds template.DeliveryStream) *firehose.Conversion {
	fc := ds.Conversion
	if fc == nil {
		return nil
	}
	c := &firehose.Conversion{
		Deserializer:                       fc.Deserializer,
		CaseSensitive:                      !fc.CaseInsensitive,
		ConvertDotsInJSONKeysToUnderscores: fc.ConvertDotsInJSONKeysToUnderscores,
		ColumnToJSONKeyMappings:            fc.ColumnToJSONKeyMappings,
		TimestampFormats:                   fc.TimestampFormats,
		Compression:                        fc.Compression,
		PageSizeBytes:                      fc.PageSizeBytes,
		Table: firehose.CatalogTable{CatalogID: fc.CatalogID, DatabaseName: fc.DatabaseName, TableName: fc.TableName,
			Region: fc.Region, VersionID: fc.VersionID},
	}
	for _, col := range fc.Columns {
		c.Columns = append(c.Columns, firehose.Column{Name: col.Name, Type: col.Type})
	}
	return c
}
