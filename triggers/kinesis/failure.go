package kinesis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/google/uuid"

	"github.com/sluice-dev/sluice/internal/clock"
)

// Discard conditions of a failure record (docs/semantics.md, "ESM on-failure
// destination").
const (
	ConditionRetryAttemptsExhausted = "RetryAttemptsExhausted"
	ConditionRecordAgeExceeded      = "RecordAgeExceeded"
)

// FailureRecord is Lambda's invocation record for discarded Kinesis records,
// field for field and in AWS's order (docs/semantics.md, "ESM on-failure
// destination"). Payload is present only for S3 destinations, which is the
// only kind Sluice writes.
type FailureRecord struct {
	RequestContext   FailureRequestContext   `json:"requestContext"`
	ResponseContext  *FailureResponseContext `json:"responseContext,omitempty"`
	Version          string                  `json:"version"`
	Timestamp        string                  `json:"timestamp"`
	KinesisBatchInfo KinesisBatchInfo        `json:"KinesisBatchInfo"`
	Payload          *events.KinesisEvent    `json:"payload,omitempty"`
}

// FailureRequestContext says which invocation gave up and why.
type FailureRequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// FailureResponseContext is the last invocation's result; absent for
// RecordAgeExceeded (observed on AWS).
type FailureResponseContext struct {
	StatusCode      int     `json:"statusCode"`
	ExecutedVersion string  `json:"executedVersion"`
	FunctionError   *string `json:"functionError"` // "Unhandled", or null after a partial-batch response
}

// KinesisBatchInfo describes the discarded range.
type KinesisBatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// isoMillis is the failure record's time format: ISO-8601 UTC, milliseconds.
const isoMillis = "2006-01-02T15:04:05.000Z"

// FailureKey is the S3 key of a failure record (docs/semantics.md, "ESM
// on-failure destination"):
// aws/lambda/<mapping UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>.
func FailureKey(mappingID, shardID string, at time.Time, id string) string {
	at = at.UTC()
	return fmt.Sprintf("aws/lambda/%s/%s/%s/%s-%s", mappingID, shardID, at.Format("2006/01/02"), at.Format("2006-01-02T15.04.05"), id)
}

// lastInvoke is what the failure record reports of the last invocation.
type lastInvoke struct {
	requestID string
	invokes   int
	// functionError is "Unhandled" after a function error, nil after a
	// partial-batch response.
	functionError *string
}

// discard sends recs to the on-failure destination (when there is one) and
// reports whether the caller may move past them: false only when ctx ends
// before the record is durable (shutdown: the records are read again).
func (m *Mapping) discard(ctx context.Context, shardID string, recs []types.Record, condition string, last lastInvoke) bool {
	m.m.discarded.WithLabelValues(m.cfg.ID, condition).Add(float64(len(recs)))
	m.log.Warn("discarding records", "shard", shardID, "records", len(recs), "condition", condition,
		"first", aws.ToString(recs[0].SequenceNumber), "invokes", last.invokes)
	if m.opts.OnFailure == nil || m.cfg.OnFailureBucket == "" {
		return true // no destination: skipped silently, as on AWS
	}
	now := m.opts.Now().UTC()
	ev := m.batchEvent(shardID, recs)
	rec := FailureRecord{
		RequestContext: FailureRequestContext{
			RequestID:              last.requestID,
			FunctionARN:            m.cfg.FunctionARN,
			Condition:              condition,
			ApproximateInvokeCount: max(last.invokes, 1), // 1 even before any invoke, as on AWS
		},
		Version:   "1.0",
		Timestamp: now.Format(isoMillis),
		KinesisBatchInfo: KinesisBatchInfo{
			ShardID:                         shardID,
			StartSequenceNumber:             aws.ToString(recs[0].SequenceNumber),
			EndSequenceNumber:               aws.ToString(recs[len(recs)-1].SequenceNumber),
			ApproximateArrivalOfFirstRecord: aws.ToTime(recs[0].ApproximateArrivalTimestamp).UTC().Format(isoMillis),
			ApproximateArrivalOfLastRecord:  aws.ToTime(recs[len(recs)-1].ApproximateArrivalTimestamp).UTC().Format(isoMillis),
			BatchSize:                       len(recs),
			StreamARN:                       m.cfg.StreamARN,
		},
		Payload: &ev,
	}
	if rec.RequestContext.RequestID == "" {
		rec.RequestContext.RequestID = uuid.NewString()
	}
	if condition != ConditionRecordAgeExceeded {
		rec.ResponseContext = &FailureResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: last.functionError}
	}
	body, err := json.Marshal(rec)
	if err != nil {
		m.log.Error("encoding failure record", "err", err)
		return true
	}
	key := FailureKey(m.cfg.ID, shardID, now, uuid.NewString())
	dctx, cancel := clock.WithTimeout(context.WithoutCancel(ctx), m.opts.Clock, m.opts.DrainTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := m.opts.OnFailure.PutFailure(dctx, m.cfg.OnFailureBucket, key, body, len(recs))
		if err == nil {
			break
		}
		m.log.Error("writing failure record; retrying", "bucket", m.cfg.OnFailureBucket, "key", key, "err", err)
		if !m.sleep(dctx, m.backoff(attempt)) {
			return false // not durable: the records are read and discarded again later
		}
	}
	m.m.failureRecords.WithLabelValues(m.cfg.ID).Add(float64(len(recs)))
	return true
}
