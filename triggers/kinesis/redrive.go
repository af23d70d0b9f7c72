package kinesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime"
)

// Redrive replays a mapping's failure records (the on-failure destination's
// objects) through a function and hands the output to the function's
// delivery stream, exactly once per failure record even when a run is
// interrupted and started again:
//
//  1. Each failure record is its own source for the delivery stream:
//     handover.Source{ID: "redrive/<bucket>/<key>", Checkpoint: "<generation>"}.
//     The output and that checkpoint become durable together (Accept).
//  2. Only then is a marker object written beside the failure records
//     (RedrivenPrefix + key), through the same store.
//
// A run that stops between 1 and 2 left the checkpoint in the delivery
// stream's write-ahead log, so the next run finds it, skips the invocation
// and the Accept, and only writes the missing marker. A marker makes later
// runs skip the record without reading it; --again (RedriveConfig.Again)
// replays it once more under the next generation number, with the same
// guarantee.

// RedrivenPrefix is where redrive markers live in the failure bucket: the
// failure record's key under this prefix. Keeping them out of aws/lambda/
// leaves the failure records' prefix exactly as Lambda lays it out, and one
// List of the prefix finds every marker of a mapping.
const RedrivenPrefix = "sluice-redriven/"

// RedriveSourcePrefix starts the delivery-stream source ID of a redriven
// failure record ("redrive/<bucket>/<key>"); no mapping uses it.
const RedriveSourcePrefix = "redrive/"

// RedriveMarker is the body of a marker object.
type RedriveMarker struct {
	// Generation counts the times the record was redriven (and delivered):
	// 1 after the first redrive, 2 after one --again, and so on. It is also
	// the checkpoint the delivery stream holds for the record's source ID.
	Generation     int    `json:"generation"`
	RedrivenAt     string `json:"redrivenAt"`
	Records        int    `json:"records"`
	OutputRecords  int    `json:"outputRecords"`
	DeliveryStream string `json:"deliveryStream,omitempty"`
	SourceID       string `json:"sourceId,omitempty"`
	// Recovered is true when an earlier, interrupted run had already
	// handed the output over and this run only wrote the marker.
	Recovered bool `json:"recovered,omitempty"`
}

// RedriveConfig says which failure records to replay and where the output
// goes.
type RedriveConfig struct {
	Store     FailureStore
	Bucket    string
	MappingID string
	// Since skips failure records written before it (zero: none skipped).
	Since time.Time
	// Again replays records that carry a marker too.
	Again    bool
	Function runtime.Invoker
	// ReportBatchItemFailures reads responses as the mapping does
	// (docs/semantics.md, "ESM partial batch responses").
	ReportBatchItemFailures bool
	// Sink is the function's delivery stream; nil when it has none (then a
	// redrive only invokes, and the marker records that it succeeded).
	Sink     handover.Acceptor
	SinkName string
	// Clock stamps each marker's RedrivenAt; nil is the wall clock.
	Clock clock.Clock
	// Now, when set, is used instead of Clock.Now. New code sets Clock.
	Now func() time.Time
	// OnOutcome is called after each failure record, in order.
	OnOutcome func(RedriveOutcome)
	// AfterAccept, when set, runs after a record's output is durably
	// accepted and before its marker is written: a fault-injection point
	// for tests of an interrupted run. An error stops the run there.
	AfterAccept func(key string) error
}

// RedriveStatus is what became of one failure record.
type RedriveStatus string

const (
	// StatusDelivered: invoked, output accepted by the delivery stream,
	// marked.
	StatusDelivered RedriveStatus = "delivered"
	// StatusRecovered: an interrupted run had accepted the output; this run
	// only marked it (no second invocation, no second delivery).
	StatusRecovered RedriveStatus = "recovered"
	// StatusSkipped: marked by an earlier redrive (and no --again).
	StatusSkipped RedriveStatus = "skipped"
	// StatusFailed: the function failed again on at least one record;
	// nothing of the failure record was delivered and it stays unmarked.
	StatusFailed RedriveStatus = "failed"
	// StatusOutside: written before --since (found only on reading it).
	StatusOutside RedriveStatus = "outside"
)

// RedriveOutcome is the result of one failure record.
type RedriveOutcome struct {
	Key    string // the failure record's key in its bucket
	Status RedriveStatus
	// Records is the number of Kinesis records in the failure record;
	// Results has each one's outcome when the function ran.
	Records int
	Results []RedriveResult
	// Output is the number of output records handed to the delivery stream.
	Output int
	// Error says why the whole failure record failed (unreadable, no
	// payload); per-record errors are in Results.
	Error string
}

// FailedRecords counts the Kinesis records that failed again.
func (o RedriveOutcome) FailedRecords() int {
	if o.Status != StatusFailed {
		return 0
	}
	n := 0
	for _, r := range o.Results {
		if !r.OK {
			n++
		}
	}
	if n == 0 {
		n = max(o.Records, 1) // the whole failure record (unreadable, no payload)
	}
	return n
}

// FailureKeys lists the failure records of a mapping in bucket, oldest
// first by the time in their key, leaving out those written before since
// (to the second: the key's resolution; RedriveFailures checks the exact
// timestamp). Markers and anything else not shaped like a failure key are
// left out.
func FailureKeys(ctx context.Context, store FailureStore, bucket, mappingID string, since time.Time) ([]string, error) {
	keys, err := store.ListFailures(ctx, bucket, "aws/lambda/"+mappingID+"/")
	if err != nil {
		return nil, fmt.Errorf("listing failure records of mapping %s in %s: %w", mappingID, bucket, err)
	}
	at := make(map[string]time.Time, len(keys))
	out := keys[:0]
	for _, k := range keys {
		t, ok := failureKeyTime(k)
		if !ok {
			continue
		}
		if !since.IsZero() && t.Before(since.Truncate(time.Second)) {
			continue
		}
		at[k] = t
		out = append(out, k)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ti, tj := at[out[i]], at[out[j]]; !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return out[i] < out[j]
	})
	return out, nil
}

// failureKeyTime reads the time out of a FailureKey's last segment
// (YYYY-MM-DDTHH.MM.SS-<uuid>).
func failureKeyTime(key string) (time.Time, bool) {
	base := path.Base(key)
	if len(base) < len("2006-01-02T15.04.05") {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01-02T15.04.05", base[:len("2006-01-02T15.04.05")])
	return t, err == nil
}

// RedriveFailures replays every failure record FailureKeys lists, in order,
// as the package comment above describes. It returns the number of failure
// records it went through and stops at the first error that leaves the
// outcome of a record unknown (the store or the delivery stream refused):
// running it again carries on exactly where it stopped. A function that
// fails again is not such an error: the record is reported and left for a
// later redrive.
func RedriveFailures(ctx context.Context, cfg RedriveConfig, keys []string) error {
	if cfg.Now == nil {
		cfg.Now = clock.Or(cfg.Clock).Now
	}
	marked, err := cfg.Store.ListFailures(ctx, cfg.Bucket, RedrivenPrefix+"aws/lambda/"+cfg.MappingID+"/")
	if err != nil {
		return fmt.Errorf("listing redrive markers in %s: %w", cfg.Bucket, err)
	}
	isMarked := make(map[string]bool, len(marked))
	for _, m := range marked {
		isMarked[strings.TrimPrefix(m, RedrivenPrefix)] = true
	}
	for _, key := range keys {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("redrive stopped before %s: %w", key, err)
		}
		o, err := cfg.one(ctx, key, isMarked[key])
		if err != nil {
			return err
		}
		if cfg.OnOutcome != nil {
			cfg.OnOutcome(o)
		}
	}
	return nil
}

// one redrives one failure record.
func (cfg *RedriveConfig) one(ctx context.Context, key string, marked bool) (RedriveOutcome, error) {
	o := RedriveOutcome{Key: key}
	if marked && !cfg.Again {
		o.Status = StatusSkipped
		return o, nil
	}
	gen := 0 // generations already delivered, by the marker
	if marked {
		body, err := cfg.Store.GetFailure(ctx, cfg.Bucket, RedrivenPrefix+key)
		if err != nil {
			return o, fmt.Errorf("reading redrive marker of %s: %w", key, err)
		}
		var m RedriveMarker
		if err := json.Unmarshal(body, &m); err != nil {
			return o, fmt.Errorf("redrive marker of %s: %w", key, err)
		}
		gen = m.Generation
	}
	target := gen + 1
	sourceID := RedriveSourcePrefix + cfg.Bucket + "/" + key

	body, err := cfg.Store.GetFailure(ctx, cfg.Bucket, key)
	if err != nil {
		return o, fmt.Errorf("reading failure record %s: %w", key, err)
	}
	var fr FailureRecord
	if err := json.Unmarshal(body, &fr); err != nil {
		o.Status, o.Error = StatusFailed, fmt.Sprintf("failure record is not valid JSON: %v", err)
		return o, nil
	}
	if fr.Payload != nil {
		o.Records = len(fr.Payload.Records)
	}
	if at, err := time.Parse(isoMillis, fr.Timestamp); err == nil && at.Before(cfg.Since) {
		o.Status = StatusOutside
		return o, nil
	}

	// An earlier run that stopped after the Accept and before the marker
	// left this checkpoint: the output is in the delivery stream already.
	if cfg.Sink != nil {
		if done, _ := strconv.Atoi(cfg.Sink.Checkpoint(sourceID)); done >= target {
			o.Status = StatusRecovered
			return o, cfg.mark(ctx, key, RedriveMarker{Generation: done, Records: o.Records, Recovered: true, SourceID: sourceID})
		}
	}

	results, resp, err := Redrive(ctx, cfg.Function, fr, cfg.ReportBatchItemFailures)
	if cerr := ctx.Err(); cerr != nil {
		// Stopped mid-invocation: not a verdict on the function.
		return o, fmt.Errorf("redrive stopped at %s: %w", key, cerr)
	}
	o.Results = results
	if err != nil {
		o.Status, o.Error = StatusFailed, err.Error()
		return o, nil
	}
	for _, r := range results {
		if !r.OK {
			// All or nothing per failure record: a later redrive replays
			// the whole record, so delivering part of it now would
			// deliver that part twice.
			o.Status = StatusFailed
			return o, nil
		}
	}
	out := outputRecords(decodeOutput(resp), payloadRecords(fr.Payload))
	o.Output = len(out)
	if cfg.Sink != nil {
		b := handover.Batch{Source: handover.Source{ID: sourceID, Checkpoint: strconv.Itoa(target)}, Records: out}
		if err := cfg.Sink.Accept(ctx, b); err != nil {
			return o, fmt.Errorf("delivering the output of %s to %s: %w", key, cfg.SinkName, err)
		}
		if cfg.AfterAccept != nil {
			if err := cfg.AfterAccept(key); err != nil {
				return o, err
			}
		}
	}
	o.Status = StatusDelivered
	return o, cfg.mark(ctx, key, RedriveMarker{Generation: target, Records: o.Records, OutputRecords: o.Output, SourceID: sourceID})
}

// mark writes key's marker. It comes after the Accept: a marker promises
// that the output is durable in the delivery stream.
func (cfg *RedriveConfig) mark(ctx context.Context, key string, m RedriveMarker) error {
	m.RedrivenAt = cfg.Now().UTC().Format(isoMillis)
	m.DeliveryStream = cfg.SinkName
	body, _ := json.Marshal(m)
	err := cfg.Store.PutFailure(ctx, cfg.Bucket, RedrivenPrefix+key, body, m.Records)
	if err != nil {
		return fmt.Errorf("marking %s as redriven: %w", key, err)
	}
	return nil
}

// payloadRecords gives the payload's records the shape outputRecords reads
// arrival times from, so redriven output lands in the partitions (and
// !{timestamp} prefixes) of the original arrival, as it would have then.
func payloadRecords(ev *events.KinesisEvent) []types.Record {
	if ev == nil {
		return nil
	}
	recs := make([]types.Record, len(ev.Records))
	for i, r := range ev.Records {
		recs[i] = types.Record{
			SequenceNumber:              aws.String(r.Kinesis.SequenceNumber),
			ApproximateArrivalTimestamp: aws.Time(r.Kinesis.ApproximateArrivalTimestamp.Time),
		}
	}
	return recs
}

// RedriveResult is the outcome of one record replayed by Redrive.
type RedriveResult struct {
	ShardID        string
	SequenceNumber string
	PartitionKey   string
	OK             bool
	// Error says why the record failed again: the function error, or that
	// the partial-batch response listed it.
	Error string
}

// Redrive invokes fn once with a failure record's payload — the event the
// function failed on — and reports each record's outcome. With
// reportBatchItemFailures the response is read as on a live mapping
// (docs/semantics.md, "ESM partial batch responses"): records from the lowest
// reported failure on count as failed. It returns the function's response body
// for callers that want the output.
func Redrive(ctx context.Context, fn runtime.Invoker, fr FailureRecord, reportBatchItemFailures bool) ([]RedriveResult, []byte, error) {
	if fr.Payload == nil || len(fr.Payload.Records) == 0 {
		return nil, nil, errors.New("failure record has no payload (only S3 destinations carry one)")
	}
	payload, err := json.Marshal(fr.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding payload: %w", err)
	}
	recs := make([]types.Record, len(fr.Payload.Records))
	results := make([]RedriveResult, len(fr.Payload.Records))
	for i, r := range fr.Payload.Records {
		recs[i] = types.Record{SequenceNumber: aws.String(r.Kinesis.SequenceNumber)}
		results[i] = RedriveResult{ShardID: fr.KinesisBatchInfo.ShardID, SequenceNumber: r.Kinesis.SequenceNumber, PartitionKey: r.Kinesis.PartitionKey, OK: true}
	}
	body, err := fn.Invoke(ctx, payload)
	if err != nil {
		for i := range results {
			results[i].OK, results[i].Error = false, err.Error()
		}
		return results, nil, nil
	}
	if reportBatchItemFailures {
		v := classifyResponse(body, recs)
		for i := v.failedAt; i < len(results); i++ {
			results[i].OK, results[i].Error = false, "reported in batchItemFailures (or after the lowest reported failure)"
		}
	}
	return results, body, nil
}
