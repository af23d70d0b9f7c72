package streams

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus collectors.
type metrics struct {
	putRecords   *prometheus.CounterVec
	putBytes     *prometheus.CounterVec
	throttled    *prometheus.CounterVec
	getCalls     *prometheus.CounterVec
	getRecords   *prometheus.CounterVec
	getThrottled *prometheus.CounterVec

	mu     sync.Mutex
	shards map[string][]string // stream → shard label values in use
}

// streamMetrics caches one stream's children so the put path does no label
// lookups.
type streamMetrics struct {
	putRecords, putBytes, throttled prometheus.Counter
}

func newMetrics() *metrics {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sluice", Subsystem: "stream", Name: name, Help: help}, labels)
	}
	return &metrics{
		putRecords:   cv("put_records_total", "Records acknowledged by PutRecord/PutRecords.", "stream"),
		putBytes:     cv("put_bytes_total", "Bytes (data + partition key) of acknowledged records.", "stream"),
		throttled:    cv("put_throttled_records_total", "Records rejected with ProvisionedThroughputExceededException.", "stream"),
		getCalls:     cv("get_records_calls_total", "GetRecords calls.", "stream", "shard"),
		getRecords:   cv("get_records_records_total", "Records returned by GetRecords.", "stream", "shard"),
		getThrottled: cv("get_records_throttled_total", "GetRecords calls rejected by read limits.", "stream", "shard"),
		shards:       map[string][]string{},
	}
}

func (m *metrics) forStream(name string) streamMetrics {
	return streamMetrics{
		putRecords: m.putRecords.WithLabelValues(name),
		putBytes:   m.putBytes.WithLabelValues(name),
		throttled:  m.throttled.WithLabelValues(name),
	}
}

func (m *metrics) noteShard(stream, shard string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.shards[stream] {
		if s == shard {
			return
		}
	}
	m.shards[stream] = append(m.shards[stream], shard)
}

// dropStream forgets a deleted stream's series so they stop being exported.
func (m *metrics) dropStream(name string) {
	m.putRecords.DeleteLabelValues(name)
	m.putBytes.DeleteLabelValues(name)
	m.throttled.DeleteLabelValues(name)
	m.mu.Lock()
	shards := m.shards[name]
	delete(m.shards, name)
	m.mu.Unlock()
	for _, sh := range shards {
		m.getCalls.DeleteLabelValues(name, sh)
		m.getRecords.DeleteLabelValues(name, sh)
		m.getThrottled.DeleteLabelValues(name, sh)
	}
}

// Collectors returns the engine's Prometheus collectors, for registering on
// the control API's registry.
func (e *Engine) Collectors() []prometheus.Collector {
	m := e.metrics
	return []prometheus.Collector{m.putRecords, m.putBytes, m.throttled, m.getCalls, m.getRecords, m.getThrottled}
}
