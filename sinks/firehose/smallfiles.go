package firehose

import (
	"log/slog"
	"sync"
)

// smallFileStreak is how many consecutive small interval flushes of one
// partition raise the small-file alarm.
const smallFileStreak = 3

// smallFileAlarm counts small objects and keeps the small-file alarm: a
// partition whose interval flushes keep producing objects under a tenth of
// the buffer size is paying per-object costs (S3 requests, tiny files for
// query engines) for nothing; raise the interval or cut the partitions.
// Shutdown and manual flushes say nothing about the traffic.
type smallFileAlarm struct {
	bufferSize int64
	log        *slog.Logger
	m          *metrics

	mu      sync.Mutex
	streak  map[string]int // partition → consecutive small interval flushes
	alarmed map[string]bool
}

func newSmallFileAlarm(bufferSize int64, log *slog.Logger, m *metrics) *smallFileAlarm {
	return &smallFileAlarm{bufferSize: bufferSize, log: log, m: m, streak: map[string]int{}, alarmed: map[string]bool{}}
}

// note accounts for a delivered data object.
func (a *smallFileAlarm) note(j *job) {
	small := j.Bytes < a.bufferSize/10
	if small {
		a.m.smallObjects.Inc()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case j.Reason != ReasonInterval:
		return
	case !small:
		delete(a.streak, j.Part)
		delete(a.alarmed, j.Part)
	default:
		a.streak[j.Part]++
		if a.streak[j.Part] >= smallFileStreak && !a.alarmed[j.Part] {
			a.alarmed[j.Part] = true
			a.log.Warn("small-file alarm: a partition keeps flushing tiny objects; raise IntervalInSeconds or reduce partitions",
				"partition", j.Part, "objects", a.streak[j.Part], "bytes", j.Bytes, "buffer_size", a.bufferSize)
		}
	}
	a.m.smallFileAlarm.Set(float64(len(a.alarmed)))
}
