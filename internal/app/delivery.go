package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sluice-dev/sluice/sinks/dest"
	"github.com/sluice-dev/sluice/sinks/firehose"
	"github.com/sluice-dev/sluice/sinks/localdir"
	"github.com/sluice-dev/sluice/template"
)

// deliveryStage holds the delivery streams and the object store they write.
type deliveryStage struct {
	store   dest.Destination
	streams map[string]*firehose.DeliveryStream // by logical ID
}

func (i *instance) openDeliveryStreams(ctx context.Context) error {
	bucketsDir := filepath.Join(i.stateDir, "buckets")
	store, err := localdir.New(bucketsDir, filepath.Join(i.stateDir, "tmp"), filepath.Join(i.stateDir, "objects-meta"))
	if err != nil {
		return fmt.Errorf("bucket directory: %w", err)
	}
	i.delivery = deliveryStage{store: store, streams: map[string]*firehose.DeliveryStream{}}
	for _, b := range i.plan.Buckets {
		i.buckets[b.Name] = filepath.Join(bucketsDir, b.Name)
	}
	for _, ds := range i.plan.DeliveryStreams {
		d, err := firehose.Open(firehoseConfig(ds), firehose.Options{
			StateDir:          filepath.Join(i.stateDir, "delivery", ds.Name),
			Destination:       store,
			MaxBufferInterval: i.cfg.MaxBufferInterval,
			Logger:            i.log.With("delivery_stream", ds.Name),
		})
		if err != nil {
			return fmt.Errorf("delivery stream %s: %w", ds.Name, err)
		}
		i.onStop(func() {
			// Shutdown flushes every buffer: give it its own deadline.
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := d.Close(fctx); err != nil {
				i.log.Error("closing delivery stream", "name", ds.Name, "err", err)
			}
		})
		i.reg.MustRegister(d.Collectors()...)
		i.delivery.streams[ds.LogicalID] = d
		i.buckets[ds.Bucket] = filepath.Join(bucketsDir, ds.Bucket)
	}
	return nil
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
