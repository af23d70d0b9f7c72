// Package frontdoor guards Sluice's listeners against hostile clients: which
// Host names a request may carry, and one place where every refusal is
// counted (for /metrics) and logged (once per cause per minute, so a flood
// cannot flood the log too).
package frontdoor

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluice-dev/sluice/internal/clock"
)

// logEvery is how often a cause of refusal is logged; refusals in between
// are only counted.
const logEvery = time.Minute

// Refusals counts requests and connections turned away, by listener and
// cause, and logs the first of each cause per minute.
type Refusals struct {
	// Clock paces the logging; nil is the wall clock. Set it before the
	// first refusal.
	Clock clock.Clock

	log     *slog.Logger
	counter *prometheus.CounterVec

	mu      sync.Mutex
	lastLog map[[2]string]time.Time
}

// NewRefusals returns a counter that logs to log (nil: slog.Default()).
func NewRefusals(log *slog.Logger) *Refusals {
	if log == nil {
		log = slog.Default()
	}
	return &Refusals{
		log: log,
		counter: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_frontdoor_refusals_total",
			Help: "Requests and connections refused at a listener, by listener and cause.",
		}, []string{"listener", "cause"}),
		lastLog: map[[2]string]time.Time{},
	}
}

// Collector is the refusal counter, for a Prometheus registry.
func (r *Refusals) Collector() prometheus.Collector { return r.counter }

// Refuse records one refusal on listener for cause; detail (slog key-value
// pairs) is logged with it if this cause was not logged in the last minute.
func (r *Refusals) Refuse(listener, cause string, detail ...any) {
	if r == nil {
		return
	}
	r.counter.WithLabelValues(listener, cause).Inc()
	key := [2]string{listener, cause}
	now := clock.Or(r.Clock).Now()
	r.mu.Lock()
	last, seen := r.lastLog[key]
	if seen && now.Sub(last) < logEvery {
		r.mu.Unlock()
		return
	}
	r.lastLog[key] = now
	r.mu.Unlock()
	args := append([]any{"listener", listener, "cause", cause}, detail...)
	r.log.Warn("refused a client (further refusals for this cause are counted in sluice_frontdoor_refusals_total and logged again in a minute)", args...)
}

type dtoMetric struct{ dto.Metric }

// Count returns how many refusals listener recorded for cause (for tests
// and status).
func (r *Refusals) Count(listener, cause string) float64 {
	m := &dtoMetric{}
	if err := r.counter.WithLabelValues(listener, cause).Write(&m.Metric); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
