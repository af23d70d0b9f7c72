package kinesis

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/runtime"
	"github.com/sluice-dev/sluice/sdk"
)

// MaxPayloadBytes is Lambda's synchronous invocation payload limit, which
// caps a batch's serialised event (docs/semantics.md, "ESM batching and the
// payload limit"; AWS does not document the mapping's exact cut-off, this
// is the documented Invoke limit).
const MaxPayloadBytes = 6 * 1024 * 1024

// recordOverhead is the serialised size of an event record without its
// data, partition key and sequence numbers, plus slack for the timestamp.
// It is measured once per mapping (with an empty shard ID, whose length is
// added back) rather than marshalled for every batch.
func (m *Mapping) recordOverhead(shardID string) int {
	m.overheadOnce.Do(func() {
		ev := m.batchEvent("", []types.Record{{}})
		b, _ := json.Marshal(ev.Records[0])
		m.overhead = len(b) + 1 + 24 // the comma, and room for any timestamp
	})
	return m.overhead + len(shardID)
}

// batchLen is how many leading records form one invocation: at most
// BatchSize, and no more than fit in MaxPayloadBytes. A single record over
// the cap still forms a batch of one (see runBatch).
func (m *Mapping) batchLen(shardID string, recs []types.Record) int {
	over := m.recordOverhead(shardID)
	size := len(`{"Records":[]}`)
	for i, r := range recs {
		if i == m.cfg.BatchSize {
			return i
		}
		size += over + base64.StdEncoding.EncodedLen(len(r.Data)) + 2*len(aws.ToString(r.PartitionKey)) + 2*len(aws.ToString(r.SequenceNumber))
		if size > MaxPayloadBytes && i > 0 {
			return i
		}
	}
	return len(recs)
}

// outcome is one invocation, classified as docs/semantics.md, "ESM
// invocation outcomes" describes.
type outcome int

const (
	outSuccess   outcome = iota
	outPartial           // ReportBatchItemFailures named records (or failed the batch)
	outFuncError         // handler error, panic, timeout
	outThrottled         // the batch never reached the function: not a retry
	outCut               // shutdown: the invocation outlived DrainTimeout and was stopped
)

// throttleTypes are invoke errors where the batch never reached the function;
// they do not count toward MaximumRetryAttempts (docs/semantics.md, "ESM
// invocation outcomes").
var throttleTypes = map[string]bool{
	"TooManyRequestsException": true, "Runtime.Throttled": true, "ServiceException": true, "ResourceNotReadyException": true,
}

// runBatch is the per-lane failure state machine for one batch
// (docs/semantics.md, "ESM retries and record age"): age discards before each
// invoke, retries with back-off, partial-batch responses, bisection on
// function errors and discard on exhaustion. invokes counts earlier
// invocations that held these records (a bisect half inherits its parent's),
// for approximateInvokeCount. It returns false only if ctx ended before the
// batch was done.
func (m *Mapping) runBatch(ctx context.Context, r *round, l int, recs []types.Record, invokes int) bool {
	attempts, throttles := 0, 0
	last := lastInvoke{}
	for len(recs) > 0 {
		// Drop the leading run of expired records before every invocation, so
		// order is kept.
		if n := m.expired(recs); n > 0 {
			last.invokes = invokes
			if !m.discard(ctx, r.shardID, recs[:n], ConditionRecordAgeExceeded, last) || !m.complete(ctx, r, l, n, nil) {
				return false
			}
			recs = recs[n:]
			continue
		}
		if ctx.Err() != nil {
			return false // shutdown before this invocation: read again later
		}
		if len(recs) == 1 && m.batchLen(r.shardID, recs) == 1 && m.payloadTooLarge(r.shardID, recs[0]) {
			// Not documented by AWS: a record that alone exceeds the payload
			// cap can never be invoked; discard it so the shard does not stall
			// forever.
			last.invokes = invokes
			if !m.discard(ctx, r.shardID, recs, ConditionRetryAttemptsExhausted, last) || !m.complete(ctx, r, l, 1, nil) {
				return false
			}
			return true
		}
		res, resp, reqID := m.invoke(ctx, r.shardID, recs)
		switch res {
		case outCut:
			return false // not done: read again after a restart
		case outThrottled:
			throttles++
			if !m.sleep(ctx, m.backoff(throttles-1)) {
				return false
			}
			continue
		case outSuccess:
			return m.complete(ctx, r, l, len(recs), outputRecords(resp.output(), recs))
		case outPartial:
			attempts++
			invokes++
			v := resp.classify(recs)
			last = lastInvoke{requestID: reqID, invokes: invokes}
			if v.failedAt > 0 {
				// Records before the lowest failure are done; the response's
				// output records are taken as the function's output for them.
				if !m.complete(ctx, r, l, v.failedAt, outputRecords(resp.output(), recs)) {
					return false
				}
				recs = recs[v.failedAt:]
			}
		case outFuncError:
			attempts++
			invokes++
			unhandled := "Unhandled"
			last = lastInvoke{requestID: reqID, invokes: invokes, functionError: &unhandled}
			if m.cfg.BisectBatchOnFunctionError && len(recs) > 1 {
				// Bisect without spending a retry; the first half (ceil)
				// finishes before the second, keeping key order.
				m.m.bisects.WithLabelValues(m.cfg.ID).Inc()
				h := (len(recs) + 1) / 2
				return m.runBatch(ctx, r, l, recs[:h], invokes) && m.runBatch(ctx, r, l, recs[h:], invokes)
			}
		}
		if m.cfg.MaximumRetryAttempts >= 0 && attempts > m.cfg.MaximumRetryAttempts {
			return m.discard(ctx, r.shardID, recs, ConditionRetryAttemptsExhausted, last) && m.complete(ctx, r, l, len(recs), nil)
		}
		m.m.retries.WithLabelValues(m.cfg.ID).Inc()
		if !m.sleep(ctx, m.backoff(attempts-1)) {
			return false
		}
	}
	return true
}

// expired counts the leading records older than MaximumRecordAge.
func (m *Mapping) expired(recs []types.Record) int {
	if m.cfg.MaximumRecordAge <= 0 {
		return 0
	}
	now := m.opts.Now()
	n := 0
	for n < len(recs) && now.Sub(aws.ToTime(recs[n].ApproximateArrivalTimestamp)) > m.cfg.MaximumRecordAge {
		n++
	}
	return n
}

func (m *Mapping) payloadTooLarge(shardID string, r types.Record) bool {
	return len(`{"Records":[]}`)+m.recordOverhead(shardID)+base64.StdEncoding.EncodedLen(len(r.Data))+2*len(aws.ToString(r.PartitionKey)) > MaxPayloadBytes
}

// response is what an invocation returned: the typed StreamResponse when
// the function took the typed path, and the raw JSON body when it answered
// through JSON (then typed, if set, is decoded from it).
type response struct {
	typed *sdk.StreamResponse
	body  []byte
}

// output returns the function's output records. On the typed path they are
// the handler's own records, with no JSON round trip.
func (r response) output() []sdk.OutputRecord {
	if r.typed != nil {
		return r.typed.Records
	}
	return decodeOutput(r.body)
}

// classify reads the response under ReportBatchItemFailures
// (docs/semantics.md, "ESM partial batch responses"): a JSON body as Lambda
// reads it, a typed response by its identifiers.
func (r response) classify(batch []types.Record) verdict {
	if r.body == nil && r.typed != nil {
		return classifyFailures(r.typed.BatchItemFailures, batch)
	}
	return classifyResponse(r.body, batch)
}

// invoke calls the function once with recs and classifies the result.
func (m *Mapping) invoke(ctx context.Context, shardID string, recs []types.Record) (outcome, response, string) {
	ev := m.batchEvent(shardID, recs)
	m.m.batchSize.WithLabelValues(m.cfg.ID).Observe(float64(len(recs)))
	m.m.invocations.WithLabelValues(m.cfg.ID, m.cfg.FunctionName).Inc()
	ictx, done := m.invokeContext(ctx)
	resp, err := m.call(ictx, &ev)
	cut := ictx.Err() != nil
	done()
	if err != nil && cut {
		m.log.Warn("shutting down: stopped an invocation still running after the drain timeout; its records are read again after restart",
			"shard", shardID, "records", len(recs), "drainTimeout", m.opts.DrainTimeout, "err", err)
		return outCut, response{}, ""
	}
	if err != nil {
		var ie *runtime.InvokeError
		if !errors.As(err, &ie) || throttleTypes[ie.Type] {
			m.m.invokeThrottles.WithLabelValues(m.cfg.ID, m.cfg.FunctionName).Inc()
			m.log.Warn("invoke throttled or failed before the function ran; retrying", "shard", shardID, "err", err)
			return outThrottled, response{}, ""
		}
		m.m.invokeErrors.WithLabelValues(m.cfg.ID, m.cfg.FunctionName).Inc()
		m.log.Warn("function error", "shard", shardID, "records", len(recs), "err", err)
		return outFuncError, response{}, ie.RequestID
	}
	if m.cfg.ReportBatchItemFailures {
		if v := resp.classify(recs); v.failedAt < len(recs) {
			m.m.partialFailures.WithLabelValues(m.cfg.ID).Inc()
			return outPartial, resp, ""
		}
	}
	return outSuccess, resp, ""
}

// errDrainTimeout is why an invocation was stopped at shutdown.
var errDrainTimeout = errors.New("still running at the end of the drain timeout")

// invokeContext is the context of one invocation. Once invoked, a batch
// is finished even if ctx is cancelled meanwhile — shutdown drains
// in-flight batches rather than throwing work away — but for DrainTimeout
// at most: a stuck function (an init that never finishes, a handler with a
// long Timeout) must not hold shutdown hostage. The function then stops the
// call (a WASM guest is interrupted; a plugin's call is abandoned).
func (m *Mapping) invokeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ictx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		m.opts.Clock.AfterFunc(m.opts.DrainTimeout, func() { cancel(errDrainTimeout) })
	})
	return ictx, func() {
		stop()
		cancel(nil)
	}
}

// call invokes the function with ev on the typed path: a function that
// takes the decoded batch directly (a Go handler in a plugin, or a WASM
// guest through the binary ABI) skips the event's JSON encoding and the
// handler's reflection decoding — most of an invocation's cost — and its
// StreamResponse is used as it is, without a JSON round trip; under
// ReportBatchItemFailures too, since a typed response holds nothing the
// partial-response rules read differently from its JSON. A function that
// answered through JSON after all hands its body over to those rules.
func (m *Mapping) call(ctx context.Context, ev *events.KinesisEvent) (response, error) {
	res, err := m.fn.InvokeKinesis(ctx, ev)
	if err != nil {
		return response{}, err
	}
	return response{typed: &res.Response, body: res.JSON}, nil
}
