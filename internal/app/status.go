package app

import (
	"encoding/json"
	"net/http"
	"sort"

	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-dev/sluice/streams"
)

// Status is what `sluice status` shows: GET /status on the control address.
type Status struct {
	Generation      int                  `json:"generation"`
	Streams         []streams.StreamInfo `json:"streams,omitempty"`
	Mappings        []MappingStatus      `json:"mappings"`
	DeliveryStreams []DeliveryStatus     `json:"deliveryStreams"`
}

// MappingStatus is one event-source mapping's progress.
type MappingStatus struct {
	ID       string `json:"id"`
	Function string `json:"function"`
	Stream   string `json:"stream"`
	// IteratorAgeMs is MillisBehindLatest per shard (0 = caught up).
	IteratorAgeMs map[string]float64 `json:"iteratorAgeMs"`
	Records       float64            `json:"records"`
	Invocations   float64            `json:"invocations"`
	Errors        float64            `json:"errors"`
}

// DeliveryStatus is one delivery stream's backlog and flush history.
type DeliveryStatus struct {
	Name            string             `json:"name"`
	Bucket          string             `json:"bucket"`
	BufferedRecords float64            `json:"bufferedRecords"`
	BufferedBytes   float64            `json:"bufferedBytes"`
	Objects         map[string]float64 `json:"objectsByFlushReason"`
	SmallObjects    float64            `json:"smallObjects"`
	// PendingObjects wait for the object store (OldestPendingMs the
	// longest); FailingObjects are those whose last write failed, retried
	// with back-off, LastError the latest such failure. A record that
	// seems stuck shows here rather than only in the log.
	PendingObjects  int    `json:"pendingObjects"`
	OldestPendingMs int64  `json:"oldestPendingMs"`
	FailingObjects  int    `json:"failingObjects"`
	LastError       string `json:"lastError,omitempty"`
	LastErrorKey    string `json:"lastErrorKey,omitempty"`
	// RefusedObjects were refused by the store for good; their records
	// went to the error output as delivery-failed (LastRefusal says which).
	RefusedObjects int    `json:"refusedObjects"`
	LastRefusal    string `json:"lastRefusal,omitempty"`
}

func (i *instance) status() Status {
	i.genMu.Lock()
	defer i.genMu.Unlock()
	st := Status{Generation: i.started}
	if i.stream.engine != nil {
		st.Streams = i.stream.engine.Streams()
		sort.Slice(st.Streams, func(a, b int) bool { return st.Streams[a].Name < st.Streams[b].Name })
	}
	var fams []*dto.MetricFamily
	if g := i.genReg.Load(); g != nil {
		fams, _ = g.Gather()
	}
	byMapping := map[string]*MappingStatus{}
	g := i.gen
	for _, m := range g.mappings.running {
		c := m.Config()
		ms := &MappingStatus{ID: c.ID, Function: c.FunctionName, Stream: c.StreamName, IteratorAgeMs: map[string]float64{}}
		byMapping[c.ID] = ms
	}
	byStream := map[string]*DeliveryStatus{}
	for _, ds := range g.plan.DeliveryStreams {
		st := &DeliveryStatus{Name: ds.Name, Bucket: ds.Bucket, Objects: map[string]float64{}}
		if d := g.delivery.streams[ds.LogicalID]; d != nil {
			b := d.Backlog()
			st.PendingObjects, st.OldestPendingMs = b.PendingObjects, b.OldestPending.Milliseconds()
			st.FailingObjects, st.LastError, st.LastErrorKey = b.FailingObjects, b.LastError, b.LastErrorKey
			st.RefusedObjects, st.LastRefusal = b.RefusedObjects, b.LastRefusal
		}
		byStream[ds.Name] = st
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			if ms := byMapping[labels["mapping"]]; ms != nil {
				switch f.GetName() {
				case "sluice_esm_iterator_age_milliseconds":
					ms.IteratorAgeMs[labels["shard"]] = v
				case "sluice_esm_records_total":
					ms.Records = v
				case "sluice_esm_invocations_total":
					ms.Invocations = v
				case "sluice_esm_invocation_errors_total":
					ms.Errors = v
				}
			}
			if ds := byStream[labels["delivery_stream"]]; ds != nil {
				switch f.GetName() {
				case "sluice_firehose_buffered_records":
					ds.BufferedRecords = v
				case "sluice_firehose_buffered_bytes":
					ds.BufferedBytes = v
				case "sluice_firehose_objects_delivered_total":
					ds.Objects[labels["reason"]] = v
				case "sluice_firehose_small_objects_total":
					ds.SmallObjects = v
				}
			}
		}
	}
	for _, id := range sortedKeys(byMapping) {
		st.Mappings = append(st.Mappings, *byMapping[id])
	}
	for _, n := range sortedKeys(byStream) {
		st.DeliveryStreams = append(st.DeliveryStreams, *byStream[n])
	}
	return st
}

func (i *instance) serveStatus(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(i.status())
}
