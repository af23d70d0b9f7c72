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
	iteratorAge  *iteratorAges

	recordAge       *prometheus.GaugeVec
	invokeThrottles *prometheus.CounterVec
	retries         *prometheus.CounterVec
	bisects         *prometheus.CounterVec
	partialFailures *prometheus.CounterVec
	discarded       *prometheus.CounterVec
	failureRecords  *prometheus.CounterVec
	filteredOut     *prometheus.CounterVec
	windowState     *prometheus.GaugeVec
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
		iteratorAge: newIteratorAges(),
		recordAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_esm_batch_record_age_milliseconds", Help: "Lambda's IteratorAge: age of the last record of a shard's latest finished batch (docs/semantics.md, \"ESM iterator age\").",
		}, []string{"mapping", "shard"}),
		invokeThrottles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_invocation_throttles_total", Help: "Invocations that never reached the function (throttles, service errors); not counted as retries.",
		}, []string{"mapping", "function"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_retries_total", Help: "Batches retried after a failed attempt.",
		}, []string{"mapping"}),
		bisects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_bisects_total", Help: "Batches split in two after a function error (BisectBatchOnFunctionError).",
		}, []string{"mapping"}),
		partialFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_partial_failures_total", Help: "Invocations whose ReportBatchItemFailures response failed some or all records.",
		}, []string{"mapping"}),
		discarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_discarded_records_total", Help: "Records given up on (DroppedEventCount), by condition.",
		}, []string{"mapping", "condition"}),
		failureRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_failure_destination_records_total", Help: "Records written to the on-failure destination (OnFailureDestinationDeliveredEventCount).",
		}, []string{"mapping"}),
		filteredOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_esm_filtered_out_records_total", Help: "Records dropped by FilterCriteria (FilteredOutEventCount).",
		}, []string{"mapping"}),
		windowState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_esm_window_state_bytes", Help: "Size of the tumbling-window state carried for a shard.",
		}, []string{"mapping", "shard"}),
	}
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.invocations, m.invokeErrors, m.readErrors, m.throttles, m.recordsIn, m.recordsOut, m.batchSize, m.iteratorAge,
		m.recordAge, m.invokeThrottles, m.retries, m.bisects, m.partialFailures, m.discarded, m.failureRecords, m.filteredOut, m.windowState}
}
