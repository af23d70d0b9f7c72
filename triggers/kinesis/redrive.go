package kinesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/runtime"
)

// StoredFailure is a failure record read back from a bucket directory.
type StoredFailure struct {
	Key    string // the object key inside the bucket
	Record FailureRecord
}

// ReadFailures returns the failure records a mapping wrote under
// bucketDir (a local bucket directory: <bucketDir>/aws/lambda/<mappingID>/...)
// whose timestamp is not before since, oldest first. A missing directory
// means none.
func ReadFailures(bucketDir, mappingID string, since time.Time) ([]StoredFailure, error) {
	root := filepath.Join(bucketDir, "aws", "lambda", mappingID)
	var out []StoredFailure
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == root {
			return fs.SkipAll
		}
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("failure record %s: %w", path, err)
		}
		var fr FailureRecord
		if err := json.Unmarshal(data, &fr); err != nil {
			return fmt.Errorf("failure record %s: %w", path, err)
		}
		if at, err := time.Parse(isoMillis, fr.Timestamp); err == nil && at.Before(since) {
			return nil
		}
		rel, _ := filepath.Rel(bucketDir, path)
		out = append(out, StoredFailure{Key: filepath.ToSlash(rel), Record: fr})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Record.Timestamp < out[j].Record.Timestamp })
	return out, nil
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
// (spec §1.8): records from the lowest reported failure on count as failed.
// It returns the function's response body for callers that want the output.
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
