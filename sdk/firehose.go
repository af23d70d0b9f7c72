//go:build !wasip1

package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// DeliveryStreamEnv is the environment variable that names the function's
// Firehose delivery stream. The template sets it with !Ref, which is also
// how Sluice wires the function's output locally.
const DeliveryStreamEnv = "DELIVERY_STREAM"

// Firehose's PutRecordBatch limits: 500 records and 4 MiB per call.
const (
	maxBatchRecords = 500
	maxBatchBytes   = 4 << 20
	maxPutAttempts  = 4
)

// FirehoseClient is the part of the Firehose API the Lambda wrapper uses;
// *firehose.Client implements it.
type FirehoseClient interface {
	PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, opts ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error)
}

func lambdaHandler(handler any) any {
	stream := os.Getenv(DeliveryStreamEnv)
	if stream == "" {
		return handler
	}
	return WithFirehose(handler, stream, nil)
}

// WithFirehose wraps handler for AWS Lambda: when it returns a
// StreamResponse, its Records are put to the delivery stream (in
// PutRecordBatch calls of at most 500 records / 4 MiB, retrying the records
// Firehose rejects) and removed from the Lambda response, which keeps only
// batchItemFailures. If the records cannot be delivered the invocation
// fails, so the event-source mapping retries the batch: at-least-once, as
// on Sluice. A nil client is created from the default AWS configuration on
// first use.
//
// Partition keys of OutputRecords do not travel: on AWS the delivery
// stream's own dynamic partitioning (JQ) computes them.
func WithFirehose(handler any, stream string, client FirehoseClient) lambda.Handler {
	return &firehoseHandler{inner: lambda.NewHandler(handler), stream: stream, client: client}
}

type firehoseHandler struct {
	inner  lambda.Handler
	stream string

	mu     sync.Mutex
	client FirehoseClient
}

func (h *firehoseHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := h.inner.Invoke(ctx, payload)
	if err != nil {
		return out, err
	}
	var resp StreamResponse
	if json.Unmarshal(out, &resp) != nil || len(resp.Records) == 0 {
		return out, nil // not a stream response, or nothing to deliver
	}
	client, err := h.getClient(ctx)
	if err != nil {
		return nil, err
	}
	if err := putAll(ctx, client, h.stream, resp.Records); err != nil {
		return nil, err
	}
	resp.Records = nil
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp); err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (h *firehoseHandler) getClient(ctx context.Context) (FirehoseClient, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client == nil {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("firehose client: %w", err)
		}
		h.client = firehose.NewFromConfig(cfg)
	}
	return h.client, nil
}

// putAll delivers records in order-preserving PutRecordBatch chunks.
func putAll(ctx context.Context, client FirehoseClient, stream string, records []OutputRecord) error {
	var batch []types.Record
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := putBatch(ctx, client, stream, batch)
		batch, size = batch[:0], 0
		return err
	}
	for _, r := range records {
		if len(batch) == maxBatchRecords || size+len(r.Data) > maxBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, types.Record{Data: r.Data})
		size += len(r.Data)
	}
	return flush()
}

// putBatch sends one batch, resending only the records Firehose reports as
// failed (its answer is per record).
func putBatch(ctx context.Context, client FirehoseClient, stream string, batch []types.Record) error {
	pending := batch
	for attempt := 1; ; attempt++ {
		out, err := client.PutRecordBatch(ctx, &firehose.PutRecordBatchInput{DeliveryStreamName: aws.String(stream), Records: pending})
		if err != nil {
			return fmt.Errorf("firehose PutRecordBatch to %s: %w", stream, err)
		}
		if aws.ToInt32(out.FailedPutCount) == 0 {
			return nil
		}
		var retry []types.Record
		var lastErr string
		for i, r := range out.RequestResponses {
			if r.ErrorCode != nil && i < len(pending) {
				retry = append(retry, pending[i])
				lastErr = aws.ToString(r.ErrorCode) + ": " + aws.ToString(r.ErrorMessage)
			}
		}
		if len(retry) == 0 {
			return nil
		}
		if attempt == maxPutAttempts {
			return fmt.Errorf("firehose PutRecordBatch to %s: %d records still failing after %d attempts (%s)", stream, len(retry), attempt, lastErr)
		}
		pending = retry
	}
}
