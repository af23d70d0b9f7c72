package firehose

import (
	"bytes"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/sinks/firehose/deaggregate"
)

// This file is record de-aggregation, the first stages of Firehose's order
// (docs/semantics.md, "Firehose processing order": KPL de-aggregation for
// Kinesis sources, then the RecordDeAggregation processor, then the
// transformation function): one incoming record
// becomes several. Splitting is a pure function of the bytes and runs
// before the batch is logged, so a replay sees the same sub-records.

// Sub-record types of the RecordDeAggregation processor (SubRecordType).
const (
	SubRecordJSON      = deaggregate.JSON
	SubRecordDelimited = deaggregate.Delimited
)

// deaggregate applies the configured stages to a batch. It returns recs
// itself when nothing was split.
func (d *DeliveryStream) deaggregate(recs []handover.Record) []handover.Record {
	cfg := d.cc.cfg
	if !cfg.DeaggregateKPL && cfg.SubRecordType == "" {
		return recs
	}
	var out []handover.Record
	for i, r := range recs {
		parts := [][]byte{r.Data}
		if cfg.DeaggregateKPL {
			if sub, ok := deaggregate.KPL(r.Data); ok {
				parts = sub
			}
		}
		if cfg.SubRecordType != "" {
			var split [][]byte
			for _, p := range parts {
				sub, ok := deaggregate.SubRecords(p, cfg.SubRecordType, d.cc.delim)
				if !ok {
					sub = [][]byte{p}
				}
				split = append(split, sub...)
			}
			parts = split
		}
		if out == nil {
			if len(parts) == 1 && bytes.Equal(parts[0], r.Data) {
				continue // nothing split yet: recs still serves
			}
			out = append(make([]handover.Record, 0, len(recs)+len(parts)), recs[:i]...)
		}
		for _, p := range parts {
			out = append(out, handover.Record{Data: p, PartitionKeys: r.PartitionKeys, ArrivalTime: r.ArrivalTime})
		}
	}
	if out == nil {
		return recs
	}
	return out
}
