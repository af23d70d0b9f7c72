// Command clickstream writes realistic web click events to a Kinesis stream
// (Sluice's embedded stream, real Amazon Kinesis, or any Kinesis-compatible
// endpoint): the producer of the sample pipeline.
//
//	go run ./samples/clickstream -endpoint http://127.0.0.1:4567 -stream clickstream -count 10000
//
// Events are JSON objects (see package clicks) with the session id as the
// partition key, written with PutRecords in batches of up to 500. Records
// the stream rejects (throttling, internal failures) and failed calls are
// retried with exponential back-off and jitter. With -acked FILE the event_id
// of every acknowledged record is appended to FILE and synced batch by batch,
// so that a test can compare what the stream acknowledged with what arrived
// downstream, even after killing the generator or the server.
//
// The exit status is 0 only when every generated record was acknowledged.
// With -count 0 it runs until interrupted; an interrupt (Ctrl-C) stops
// generating, finishes the batch in flight and exits; a second one aborts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-dev/sluice/samples/clickstream/clicks"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the flag package printed the usage
		}
		fmt.Fprintf(os.Stderr, "clickstream: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("clickstream", flag.ContinueOnError)
	var (
		endpoint    = fs.String("endpoint", "http://127.0.0.1:4567", "Kinesis endpoint URL; empty = the AWS endpoint for -region, with credentials from the standard AWS chain")
		stream      = fs.String("stream", "clickstream", "stream name")
		region      = fs.String("region", "us-east-1", "AWS region")
		count       = fs.Int("count", 10000, "records to write; 0 = until interrupted")
		rate        = fs.Float64("rate", 0, "records per second; 0 = as fast as the stream accepts")
		seed        = fs.Int64("seed", 1, "seed for the event content (event_id is always random)")
		acked       = fs.String("acked", "", "write the event_id of every acknowledged record to this file (truncated first), one per line, synced per batch")
		batch       = fs.Int("batch", 500, "records per PutRecords call (1-500)")
		maxRetries  = fs.Int("max-retries", 10, "consecutive attempts without progress before giving up on a batch")
		waitActive  = fs.Duration("wait", 60*time.Second, "how long to wait for the stream to become ACTIVE")
		progress    = fs.Duration("progress", 2*time.Second, "interval between progress lines on stderr; 0 = only the final one")
		sessions    = fs.Int("sessions", 64, "concurrently active sessions (distinct partition keys in flight)")
		hotKeySkew  = fs.Float64("hot-key-skew", 0, "fraction [0,1) of events from one crawler session, to make one shard hot")
		spikePage   = fs.String("spike-page", "", "page that gets a traffic spike, e.g. /products/42")
		spikeAt     = fs.Duration("spike-at", 30*time.Second, "when the spike starts, after the first event")
		spikeFor    = fs.Duration("spike-duration", time.Minute, "how long the spike lasts")
		spikeFactor = fs.Float64("spike-factor", 10, "the spike page's traffic during the spike, as a multiple of its traffic before")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case *count < 0:
		return errors.New("-count must be >= 0")
	case *rate < 0:
		return errors.New("-rate must be >= 0")
	case *batch < 1 || *batch > 500:
		return errors.New("-batch must be between 1 and 500")
	case *hotKeySkew < 0 || *hotKeySkew >= 1:
		return errors.New("-hot-key-skew must be in [0, 1)")
	}

	// The first interrupt asks for a clean stop; restoring the default
	// handler afterwards lets a second one kill the process.
	ctx := context.Background()
	stop := make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		fmt.Fprintln(os.Stderr, "clickstream: stopping after the batch in flight (interrupt again to abort)")
		close(stop)
	}()

	client, err := newClient(ctx, *endpoint, *region)
	if err != nil {
		return err
	}
	gen := clicks.New(clicks.Options{
		Seed:           *seed,
		ActiveSessions: *sessions,
		HotKeySkew:     *hotKeySkew,
		Spike:          clicks.Spike{Page: *spikePage, At: *spikeAt, Duration: *spikeFor, Factor: *spikeFactor},
	})
	cfg := producerConfig{
		Stream:        *stream,
		Count:         *count,
		Rate:          *rate,
		BatchSize:     *batch,
		MaxRetries:    *maxRetries,
		ActiveTimeout: *waitActive,
		Progress:      *progress,
		Log:           os.Stderr,
		Stop:          stop,
	}
	if *acked != "" {
		a, err := openAckLog(*acked)
		if err != nil {
			return err
		}
		defer a.Close()
		cfg.Acked = a
	}

	st, err := produce(ctx, client, gen, cfg)
	if err != nil {
		return err
	}
	if *count > 0 && st.Acked < *count {
		return fmt.Errorf("interrupted after %d of %d records (all %d acknowledged)", st.Sent, *count, st.Acked)
	}
	if cfg.Acked != nil {
		return cfg.Acked.Close()
	}
	return nil
}

// newClient builds the Kinesis client. It passes no custom HTTP client:
// with AWS_CA_BUNDLE set, LoadDefaultConfig rejects one it cannot add the
// bundle to. The SDK's own retries are off because putBatch retries with
// its own accounting; the SDK's retry quota would otherwise end a long
// outage with "retry quota exceeded".
func newClient(ctx context.Context, endpoint, region string) (*kinesis.Client, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if endpoint != "" {
		// Emulators and Sluice's embedded stream accept any signature.
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDSLUICE", "sluice", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
