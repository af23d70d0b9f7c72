package kinesis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/triggers/checkpoint"
)

// MaxWindowStateBytes is the per-shard state limit of a tumbling window;
// a larger state terminates the window early (docs/semantics.md, "ESM
// tumbling windows").
const MaxWindowStateBytes = 1 << 20

// windowEvent is events.KinesisTimeWindowEvent with the state kept as raw
// JSON: Lambda passes the state through untouched (docs/semantics.md, "ESM
// tumbling windows"), while aws-lambda-go types it map[string]string, which
// would re-type numbers.
type windowEvent struct {
	Records                 []events.KinesisEventRecord `json:"Records"`
	Window                  events.Window               `json:"window"`
	State                   json.RawMessage             `json:"state"`
	ShardID                 string                      `json:"shardId"`
	EventSourceARN          string                      `json:"eventSourceARN"`
	IsFinalInvokeForWindow  bool                        `json:"isFinalInvokeForWindow"`
	IsWindowTerminatedEarly bool                        `json:"isWindowTerminatedEarly"`
}

// window is a shard's open tumbling window.
type window struct {
	start, end time.Time
	state      json.RawMessage // the last state the function returned; {} at start
	last       string          // sequence number of the window's last record (done, filtered or discarded)
}

// windowOf returns the window holding t: windows are aligned to multiples
// of their length since the Unix epoch (the alignment of AWS's documented
// example; docs/semantics.md, "ESM tumbling windows").
func (m *Mapping) windowOf(t time.Time) (time.Time, time.Time) {
	w := int64(m.cfg.TumblingWindow / time.Second)
	s := t.Unix() - t.Unix()%w
	return time.Unix(s, 0).UTC(), time.Unix(s+w, 0).UTC()
}

// runWindowRound processes a read with a tumbling window: records join the
// window of their arrival time; when a record belongs to a later window the
// open one gets its final invocation first. The checkpoint moves only when a
// window's final invocation succeeds (docs/semantics.md, "ESM checkpoints"),
// so a restart re-reads the open window and rebuilds its state. It returns
// false if ctx ended.
func (m *Mapping) runWindowRound(ctx context.Context, sr *shardReader, sourceID string, recs []types.Record) bool {
	for len(recs) > 0 {
		at := aws.ToTime(recs[0].ApproximateArrivalTimestamp)
		if sr.win != nil && !at.Before(sr.win.end) {
			if !m.closeWindow(ctx, sr, sourceID) {
				return false
			}
		}
		if sr.win == nil {
			s, e := m.windowOf(at)
			sr.win = &window{start: s, end: e, state: json.RawMessage(`{}`)}
		}
		// The run of records that belong to the open window (a record that
		// arrived earlier than the window, out of order, stays in it).
		n := 0
		for n < len(recs) && aws.ToTime(recs[n].ApproximateArrivalTimestamp).Before(sr.win.end) {
			n++
		}
		var batch []types.Record
		for _, r := range recs[:n] {
			if m.keep == nil || m.keep(r) {
				batch = append(batch, r)
			}
		}
		for len(batch) > 0 {
			k := m.batchLen(sr.id, batch)
			if !m.windowInvoke(ctx, sr, sourceID, batch[:k], false) {
				return false
			}
			batch = batch[k:]
		}
		sr.win.last = aws.ToString(recs[n-1].SequenceNumber)
		recs = recs[n:]
	}
	return true
}

// closeWindow makes the final invocation of the open window, then drops
// its state and checkpoints the window's last record.
func (m *Mapping) closeWindow(ctx context.Context, sr *shardReader, sourceID string) bool {
	if sr.win == nil {
		return true
	}
	if !m.windowInvoke(ctx, sr, sourceID, nil, true) {
		return false
	}
	if sr.win.last != "" {
		dctx, cancel := clock.WithTimeout(context.WithoutCancel(ctx), m.opts.Clock, m.opts.DrainTimeout)
		defer cancel()
		for attempt := 0; ; attempt++ {
			err := m.store.Put(dctx, m.cfg.ID, sr.id, checkpoint.Position{SequenceNumber: sr.win.last, Epoch: sr.epoch})
			if err == nil {
				break
			}
			if errors.Is(err, checkpoint.ErrFenced) {
				return false
			}
			if !m.sleep(dctx, m.backoff(attempt)) {
				return false
			}
		}
	}
	sr.win = nil
	m.m.windowState.WithLabelValues(m.cfg.ID, sr.id).Set(0)
	return true
}

// windowInvoke invokes the function with recs and the window's state until it
// succeeds (the response must carry a state property), or the retry policy
// discards the records. A final invocation that fails suspends the shard until
// it succeeds, so it is never discarded.
func (m *Mapping) windowInvoke(ctx context.Context, sr *shardReader, sourceID string, recs []types.Record, final bool) bool {
	w := sr.win
	ev := windowEvent{
		Records: m.batchEvent(sr.id, recs).Records, Window: events.Window{Start: events.RFC3339EpochTime{Time: w.start}, End: events.RFC3339EpochTime{Time: w.end}},
		State: w.state, ShardID: sr.id, EventSourceARN: m.cfg.StreamARN, IsFinalInvokeForWindow: final,
	}
	if ev.Records == nil {
		ev.Records = []events.KinesisEventRecord{}
	}
	attempts, invokes := 0, 0
	var last lastInvoke
	for {
		if n := m.expired(recs); n > 0 && !final {
			if !m.discard(ctx, sr.id, recs[:n], ConditionRecordAgeExceeded, lastInvoke{invokes: invokes}) {
				return false
			}
			recs = recs[n:]
			ev.Records = ev.Records[n:]
			if len(recs) == 0 {
				return true
			}
		}
		if ctx.Err() != nil && attempts == 0 {
			return false
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			return false
		}
		m.m.invocations.WithLabelValues(m.cfg.ID, m.cfg.FunctionName).Inc()
		m.m.batchSize.WithLabelValues(m.cfg.ID).Observe(float64(len(recs)))
		ictx, done := m.invokeContext(ctx)
		body, err := m.fn.Invoke(ictx, payload)
		cut := ictx.Err() != nil
		done()
		if err != nil && cut {
			return false // shutdown stopped it: read again after restart
		}
		attempts++
		invokes++
		if err == nil {
			if state, ok := responseState(body); ok {
				if out := outputRecords(decodeOutput(body), recs); m.sink != nil && len(out) > 0 {
					for i := range out {
						if out[i].ArrivalTime.IsZero() {
							out[i].ArrivalTime = w.start // a final invoke's aggregate belongs to its window
						}
					}
					cp := ""
					if final {
						cp = w.last
					}
					if !m.acceptOutput(ctx, sourceID, cp, out) {
						return false
					}
				}
				w.state = state
				m.m.windowState.WithLabelValues(m.cfg.ID, sr.id).Set(float64(len(state)))
				if len(state) > MaxWindowStateBytes && !final {
					// State too large: terminate the window early with this
					// state, then continue the same window afresh.
					early := ev
					early.Records, early.State, early.IsFinalInvokeForWindow, early.IsWindowTerminatedEarly = []events.KinesisEventRecord{}, state, true, true
					if p, err := json.Marshal(early); err == nil {
						ictx, done := m.invokeContext(ctx)
						_, _ = m.fn.Invoke(ictx, p)
						done()
					}
					w.state = json.RawMessage(`{}`)
				}
				return true
			}
			m.log.Warn("window response has no state property; counted as a failure", "shard", sr.id)
		} else {
			m.m.invokeErrors.WithLabelValues(m.cfg.ID, m.cfg.FunctionName).Inc()
			unhandled := "Unhandled"
			last = lastInvoke{invokes: invokes, functionError: &unhandled}
		}
		last.invokes = invokes
		if !final && m.cfg.MaximumRetryAttempts >= 0 && attempts > m.cfg.MaximumRetryAttempts {
			return m.discard(ctx, sr.id, recs, ConditionRetryAttemptsExhausted, last)
		}
		m.m.retries.WithLabelValues(m.cfg.ID).Inc()
		if !m.sleep(ctx, m.backoff(attempts-1)) {
			return false
		}
	}
}

// responseState returns the state property of a window response; null
// counts as an empty state (a Go handler that never set its map), a
// missing property as a failed invocation.
func responseState(body []byte) (json.RawMessage, bool) {
	var resp map[string]json.RawMessage
	if json.Unmarshal(body, &resp) != nil {
		return nil, false
	}
	s, ok := resp["state"]
	if !ok {
		return nil, false
	}
	if bytes.Equal(bytes.TrimSpace(s), []byte("null")) {
		return json.RawMessage(`{}`), true
	}
	return s, true
}

// acceptOutput hands out to the sink, retrying until it takes it.
func (m *Mapping) acceptOutput(ctx context.Context, sourceID, cp string, out []handover.Record) bool {
	dctx, cancel := clock.WithTimeout(context.WithoutCancel(ctx), m.opts.Clock, m.opts.DrainTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := m.sink.Accept(dctx, handover.Batch{Source: handover.Source{ID: sourceID, Checkpoint: cp}, Records: out})
		if err == nil {
			m.m.recordsOut.WithLabelValues(m.cfg.ID).Add(float64(len(out)))
			return true
		}
		m.log.Error("sink refused batch; retrying", "err", err)
		if !m.sleep(dctx, m.backoff(attempt)) {
			return false
		}
	}
}
