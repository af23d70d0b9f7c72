package firehose

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a delivery stream's Prometheus collectors, labelled with the
// stream name so several streams can share a registry.
type metrics struct {
	recordsAccepted  prometheus.Counter
	bytesAccepted    prometheus.Counter
	recordsFailed    *prometheus.CounterVec // by error output type
	recordsDropped   prometheus.Counter
	objects          *prometheus.CounterVec // by flush reason
	objectBytes      prometheus.Counter     // uncompressed bytes delivered
	smallObjects     prometheus.Counter
	smallFileAlarm   prometheus.Gauge
	deliveryErrors   prometheus.Counter
	bufferedRecords  prometheus.Gauge
	bufferedBytes    prometheus.Gauge
	activePartitions prometheus.Gauge
	pendingObjects   prometheus.Gauge
	failingObjects   prometheus.Gauge
	objectsRefused   *prometheus.CounterVec // by the destination's code
	oldestPending    prometheus.Collector   // a GaugeFunc over the stream's jobs
}

func newMetrics(stream string) *metrics {
	l := prometheus.Labels{"delivery_stream": stream}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "sluice", Subsystem: "firehose", Name: name, Help: help, ConstLabels: l})
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sluice", Subsystem: "firehose", Name: name, Help: help, ConstLabels: l})
	}
	m := &metrics{
		recordsAccepted: c("records_accepted_total", "Records durably accepted."),
		bytesAccepted:   c("bytes_accepted_total", "Record bytes durably accepted."),
		recordsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sluice", Subsystem: "firehose", Name: "records_failed_total",
			Help: "Records routed to the error output, by error output type.", ConstLabels: l}, []string{"error_type"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sluice", Subsystem: "firehose", Name: "objects_delivered_total",
			Help: "Objects written to the destination, by flush reason (size, interval, partition_cap, shutdown, manual).", ConstLabels: l}, []string{"reason"}),
		recordsDropped: c("records_dropped_total", "Records the transformation function returned as Dropped."),
		objectBytes:    c("object_bytes_delivered_total", "Uncompressed bytes delivered in objects."),
		smallObjects:   c("small_objects_total", "Objects delivered with less than a tenth of the buffer size: a sign of too short intervals or too many partitions."),
		smallFileAlarm: g("small_file_alarm", "Partitions whose last "+fmt.Sprint(smallFileStreak)+
			" interval flushes were all small objects (under a tenth of the buffer size); alarm when above zero."),
		deliveryErrors:   c("delivery_errors_total", "Failed object writes (retried unless refused for good)."),
		bufferedRecords:  g("buffered_records", "Records buffered and not yet in a delivered object."),
		bufferedBytes:    g("buffered_bytes", "Uncompressed bytes buffered."),
		activePartitions: g("active_partitions", "Partitions with buffered or undelivered records."),
		pendingObjects:   g("pending_objects", "Objects decided but not yet written."),
		failingObjects:   g("failing_objects", "Pending objects whose last write failed; retried with back-off."),
		objectsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sluice", Subsystem: "firehose", Name: "objects_refused_total",
			Help: "Objects the destination refused for good, by its code; their records went to the error output as delivery-failed.", ConstLabels: l}, []string{"code"}),
	}
	for _, r := range []string{ReasonSize, ReasonInterval, ReasonShutdown, ReasonManual} {
		m.objects.WithLabelValues(r) // export zeros so dashboards see every reason
	}
	return m
}

// watch adds the metrics computed at scrape time from the stream's state.
func (m *metrics) watch(stream string, d *DeliveryStream) {
	m.oldestPending = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sluice", Subsystem: "firehose",
		Name: "oldest_pending_object_age_seconds", Help: "How long the oldest pending object has waited since its flush was decided.",
		ConstLabels: prometheus.Labels{"delivery_stream": stream}},
		func() float64 { return d.Backlog().OldestPending.Seconds() })
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.recordsAccepted, m.bytesAccepted, m.recordsFailed, m.recordsDropped, m.objects, m.objectBytes,
		m.smallObjects, m.smallFileAlarm, m.deliveryErrors, m.bufferedRecords, m.bufferedBytes, m.activePartitions, m.pendingObjects,
		m.failingObjects, m.objectsRefused, m.oldestPending}
}
