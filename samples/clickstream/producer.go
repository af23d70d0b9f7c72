package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/samples/clickstream/clicks"
)

// kinesisAPI is the part of the Kinesis client the producer uses.
type kinesisAPI interface {
	DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	PutRecords(context.Context, *kinesis.PutRecordsInput, ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// producerConfig is what the producer needs, independent of flags.
type producerConfig struct {
	Stream        string
	Count         int           // records to write; 0 = until ctx is done
	Rate          float64       // records per second; 0 = as fast as possible
	BatchSize     int           // records per PutRecords call, 1..500
	MaxRetries    int           // consecutive attempts without progress before giving up on a batch
	ActiveTimeout time.Duration // how long to wait for the stream to become ACTIVE
	Progress      time.Duration // interval between progress lines; 0 = none
	Log           io.Writer     // progress and retry messages
	Acked         *ackLog       // nil = don't record acknowledged ids
	// Stop, when closed, ends generation after the batch in flight; ctx
	// cancellation instead abandons that batch too.
	Stop <-chan struct{}
	// Clock paces the records, the retries and the progress lines; nil is
	// the wall clock.
	Clock clock.Clock
}

type stats struct {
	Sent    int // records generated and handed to PutRecords at least once
	Acked   int // records the stream acknowledged
	Retries int // PutRecords calls repeated because of a transport error or failed entries
}

// errUnacknowledged reports records that were generated but never
// acknowledged.
var errUnacknowledged = errors.New("records not acknowledged")

// produce writes cfg.Count events from gen to the stream and returns once
// every one of them is acknowledged, or with an error saying how many were
// not.
func produce(ctx context.Context, api kinesisAPI, gen *clicks.Generator, cfg producerConfig) (stats, error) {
	var st stats
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > 500 {
		cfg.BatchSize = 500 // the PutRecords maximum
	}
	cfg.Clock = clock.Or(cfg.Clock)
	if err := waitActive(ctx, cfg.Clock, api, cfg.Stream, cfg.ActiveTimeout); err != nil {
		return st, err
	}

	batchSize := cfg.BatchSize
	if cfg.Rate > 0 {
		// About ten calls a second at low rates, so the traffic is smooth
		// rather than one burst per second.
		batchSize = max(1, min(batchSize, int(cfg.Rate/10)))
	}

	start := cfg.Clock.Now()
	lastProgress, printed := start, -1
	batch := make([]pending, 0, batchSize)
	for cfg.Count == 0 || st.Sent < cfg.Count {
		if stopped(ctx, cfg.Stop) {
			break // interrupted: everything sent so far was acknowledged
		}
		if cfg.Rate > 0 {
			// Pacing: record n is due at start + n/rate.
			due := start.Add(time.Duration(float64(st.Sent) / cfg.Rate * float64(time.Second)))
			if err := sleep(ctx, cfg.Clock, cfg.Stop, cfg.Clock.Until(due)); err != nil {
				break
			}
		}
		n := batchSize
		if cfg.Count > 0 {
			n = min(n, cfg.Count-st.Sent)
		}
		batch = batch[:0]
		for range n {
			ev := gen.Next()
			data, err := json.Marshal(ev)
			if err != nil {
				return st, fmt.Errorf("encode event: %w", err)
			}
			batch = append(batch, pending{id: ev.EventID, key: ev.SessionID, data: data})
		}
		st.Sent += n
		if err := putBatch(ctx, api, cfg, batch, &st); err != nil {
			return st, fmt.Errorf("%w: %d of %d sent (%v)", errUnacknowledged, st.Sent-st.Acked, st.Sent, err)
		}
		if cfg.Progress > 0 && cfg.Clock.Since(lastProgress) >= cfg.Progress {
			lastProgress = cfg.Clock.Now()
			printProgress(cfg.Log, st, cfg.Clock.Since(start))
			printed = st.Sent
		}
	}
	if printed != st.Sent {
		printProgress(cfg.Log, st, cfg.Clock.Since(start))
	}
	return st, nil
}

// printProgress prints the tally after el of sending.
func printProgress(w io.Writer, st stats, el time.Duration) {
	fmt.Fprintf(w, "clickstream: sent=%d acked=%d retries=%d elapsed=%s rate=%.0f/s\n",
		st.Sent, st.Acked, st.Retries, el.Round(time.Millisecond), float64(st.Acked)/max(el.Seconds(), 1e-9))
}

type pending struct {
	id, key string
	data    []byte
}

// putBatch writes batch until every entry is acknowledged. Entries that
// PutRecords reports as failed (throttled, internal failure) are retried
// alone; a failed call (transport error, throttled call, 5xx) is retried
// whole. Back-off is exponential with full jitter and resets whenever an
// attempt makes progress, so a throttled but moving stream never gives up.
//
// Retried entries land after entries of the same session that succeeded in
// the same call: per-key order holds only between batches (the same caveat
// as any PutRecords producer).
func putBatch(ctx context.Context, api kinesisAPI, cfg producerConfig, batch []pending, st *stats) error {
	var lastErr error
	stalled := 0
	for attempt := 0; len(batch) > 0; attempt++ {
		if attempt > 0 {
			st.Retries++
			if stalled > cfg.MaxRetries {
				return fmt.Errorf("gave up after %d attempts without progress: %w", stalled, lastErr)
			}
			if err := sleep(ctx, cfg.Clock, nil, backoff(stalled)); err != nil {
				return fmt.Errorf("%w (last error: %v)", err, lastErr)
			}
		}
		entries := make([]types.PutRecordsRequestEntry, len(batch))
		for i, p := range batch {
			entries[i] = types.PutRecordsRequestEntry{Data: p.data, PartitionKey: aws.String(p.key)}
		}
		out, err := api.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(cfg.Stream), Records: entries})
		if err != nil {
			if !retryable(err) {
				return fmt.Errorf("put records: %w", err)
			}
			lastErr, stalled = fmt.Errorf("put records: %w", err), stalled+1
			fmt.Fprintf(cfg.Log, "clickstream: retrying %d records: %v\n", len(batch), err)
			continue
		}
		if len(out.Records) != len(batch) {
			return fmt.Errorf("put records: %d results for %d entries", len(out.Records), len(batch))
		}
		var acked []string
		failed := batch[:0:0]
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				failed = append(failed, batch[i])
				lastErr = fmt.Errorf("%s: %s", aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
				continue
			}
			acked = append(acked, batch[i].id)
		}
		if cfg.Acked != nil && len(acked) > 0 {
			if err := cfg.Acked.write(acked); err != nil {
				return err
			}
		}
		st.Acked += len(acked)
		if len(acked) > 0 {
			stalled = 0
		} else {
			stalled++
		}
		batch = failed
	}
	return nil
}

// retryable reports whether a failed PutRecords call may succeed when
// repeated: transport errors and server-side or throttling errors, but not
// a missing stream or a rejected request.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return true // connection refused, reset, timeout: the server may come back
	}
	switch apiErr.ErrorCode() {
	case "ProvisionedThroughputExceededException", "LimitExceededException", "InternalFailure",
		"InternalFailureException", "ServiceUnavailable", "ServiceUnavailableException",
		"KMSThrottlingException", "ThrottlingException", "RequestTimeout", "RequestTimeoutException":
		return true
	}
	return apiErr.ErrorFault() == smithy.FaultServer
}

// backoff returns a full-jitter delay for the n-th consecutive failure:
// uniform in [0, min(5s, 50ms·2ⁿ)), so many producers retrying at once
// spread out instead of hitting a throttled shard together.
func backoff(n int) time.Duration {
	ceil := 50 * time.Millisecond << min(n, 7)
	ceil = min(ceil, 5*time.Second)
	return time.Duration(mrand.Int64N(int64(ceil))) + time.Millisecond
}

// errStopped is returned by sleep when stop was closed.
var errStopped = errors.New("stopped")

// sleep waits for d on c, or until ctx is done or stop (which may be nil)
// is closed.
func sleep(ctx context.Context, c clock.Clock, stop <-chan struct{}, d time.Duration) error {
	if stopped(ctx, stop) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errStopped
	}
	if d <= 0 {
		return nil
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return errStopped
	case <-t.Chan():
		return nil
	}
}

func stopped(ctx context.Context, stop <-chan struct{}) bool {
	select {
	case <-ctx.Done():
		return true
	case <-stop:
		return true
	default:
		return false
	}
}

// waitActive waits until the stream is ACTIVE (or UPDATING, which accepts
// writes too). A stream that does not exist yet is waited for as well: the
// generator is often started right after the server that creates it.
func waitActive(ctx context.Context, c clock.Clock, api kinesisAPI, stream string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := clock.WithTimeout(ctx, c, timeout)
	defer cancel()
	var last string
	for n := 0; ; n++ {
		out, err := api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		switch {
		case err == nil:
			status := out.StreamDescriptionSummary.StreamStatus
			if status == types.StreamStatusActive || status == types.StreamStatusUpdating {
				return nil
			}
			last = "status " + string(status)
		case ctx.Err() != nil:
		case retryable(err) || isNotFound(err):
			last = err.Error()
		default:
			return fmt.Errorf("describe stream %s: %w", stream, err)
		}
		// Kinesis has no "stream became active" notification; polling with
		// a growing interval is what the SDK's own waiter does.
		if err := sleep(ctx, c, nil, min(50*time.Millisecond<<min(n, 4), time.Second)); err != nil {
			if last == "" {
				last = err.Error()
			}
			return fmt.Errorf("stream %s not ACTIVE after %v (%s)", stream, timeout, last)
		}
	}
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// ackLog appends acknowledged event ids to a file, one per line, and makes
// each batch durable before the next is sent: a test reads the file after
// killing the generator or the server, and must find every acknowledged
// record.
type ackLog struct {
	f *os.File
	w *bufio.Writer
}

func openAckLog(path string) (*ackLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open acked file: %w", err)
	}
	return &ackLog{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

func (a *ackLog) write(ids []string) error {
	for _, id := range ids {
		a.w.WriteString(id)
		a.w.WriteByte('\n')
	}
	if err := a.w.Flush(); err != nil {
		return fmt.Errorf("write acked file: %w", err)
	}
	if err := a.f.Sync(); err != nil {
		return fmt.Errorf("sync acked file: %w", err)
	}
	return nil
}

func (a *ackLog) Close() error {
	if err := a.w.Flush(); err != nil {
		a.f.Close()
		return fmt.Errorf("write acked file: %w", err)
	}
	return a.f.Close()
}
