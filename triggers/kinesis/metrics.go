package kinesis

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the mapping's Prometheus collectors, shared by all mappings
// of a process and told apart by the mapping label.
type Metrics struct {
	invocations  *prometheus.CounterVec
	invokeErrors *prometheus.CounterVec
	readErrors   *prometheus.CounterVec
	throttles    *prometheus.CounterVec
	recordsIn    *prometheus.CounterVec
	recordsOut   *prometheus.CounterVec
	batchSize    *prometheus.HistogramVec
	iteratorAge  *prometheus.GaugeVec
}

// NewMetrics creates unregistered collectors; see Collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_invocations_total", Help: "Function invocations by the event-source mapping, retries included.",
		}, []string{"mapping", "function"}),
		invokeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_invocation_errors_total", Help: "Invocations that ended in a function error.",
		}, []string{"mapping", "function"}),
		readErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_read_errors_total", Help: "GetRecords calls that failed (throttles included).",
		}, []string{"mapping"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_read_throttles_total", Help: "GetRecords calls throttled by the stream's read limits.",
		}, []string{"mapping"}),
		recordsIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_records_total", Help: "Stream records handled and checkpointed.",
		}, []string{"mapping"}),
		recordsOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_output_records_total", Help: "Output records accepted by the sink.",
		}, []string{"mapping"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sluice_esm_batch_records", Help: "Records per invocation.",
			Buckets: []float64{1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000},
		}, []string{"mapping"}),
		iteratorAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_esm_iterator_age_milliseconds", Help: "MillisBehindLatest of the last GetRecords per shard.",
		}, []string{"mapping", "shard"}),
	}
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.invocations, m.invokeErrors, m.readErrors, m.throttles, m.recordsIn, m.recordsOut, m.batchSize, m.iteratorAge}
}
