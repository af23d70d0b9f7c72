package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/sdkhttp"
)

// Subscriber is the enhanced fan-out read API: *kinesis.Client from
// aws-sdk-go-v2 satisfies it. A mapping whose Config.ConsumerARN is set
// reads through it, as Lambda does when an event source mapping names a
// consumer ARN: records are pushed over SubscribeToShard instead of
// polled with GetRecords.
type Subscriber interface {
	SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error)
}

// fanOutReader presents a consumer's SubscribeToShard subscriptions as the
// iterator API the mapping reads, so that batching, retries, bisection,
// lanes and checkpoints are the same code for both read paths:
//
//   - GetShardIterator subscribes at once (so a LATEST position is taken
//     when it returns, as Positioned promises) and returns a token naming
//     the subscription;
//   - GetRecords hands over records already pushed, up to Limit, and never
//     waits; WaitForRecords waits for the next push;
//   - a subscription ends after five minutes (or on an error); the reader
//     subscribes again after the last continuation sequence number, so no
//     record is skipped or repeated;
//   - the event that ends a closed shard (child shards, or no
//     continuation) becomes a null NextShardIterator once its records are handed over.
//
// ListShards goes to the polling Reader.
type fanOutReader struct {
	Reader
	sub         Subscriber
	consumerARN string
	log         *slog.Logger
	clock       clock.Clock // paces resubscribing

	mu      sync.Mutex
	next    uint64
	byToken map[string]*subscription
	byShard map[string]*subscription
}

func newFanOutReader(r Reader, sub Subscriber, consumerARN string, log *slog.Logger, c clock.Clock) *fanOutReader {
	return &fanOutReader{Reader: r, sub: sub, consumerARN: consumerARN, log: log, clock: c,
		byToken: map[string]*subscription{}, byShard: map[string]*subscription{}}
}

// subscription is one shard's push feed. pump owns the SDK streams and
// sends what they deliver on events; the mapping's single reader of the
// shard takes from events into pending.
type subscription struct {
	token   string
	shardID string
	cancel  context.CancelFunc
	events  chan pushed
	done    chan struct{} // pump returned

	// Only the shard's reader touches these.
	pending []types.Record
	behind  *int64
	ended   bool
}

// pushed is one SubscribeToShardEvent, or the end of the shard.
type pushed struct {
	records []types.Record
	behind  *int64
	end     bool
}

func (f *fanOutReader) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	shardID := aws.ToString(in.ShardId)
	start := &types.StartingPosition{
		Type:           types.ShardIteratorType(in.ShardIteratorType),
		SequenceNumber: in.StartingSequenceNumber,
		Timestamp:      in.Timestamp,
	}
	sctx, cancel := context.WithCancel(ctx)
	out, err := f.subscribe(sctx, shardID, start)
	if err != nil {
		cancel()
		return nil, err
	}
	f.mu.Lock()
	if old := f.byShard[shardID]; old != nil { // the mapping reopened the shard
		old.cancel()
		delete(f.byToken, old.token)
	}
	f.next++
	s := &subscription{
		token:   "fanout:" + shardID + ":" + strconv.FormatUint(f.next, 10),
		shardID: shardID, cancel: cancel,
		events: make(chan pushed, 4), done: make(chan struct{}),
	}
	f.byToken[s.token] = s
	f.byShard[shardID] = s
	f.mu.Unlock()
	go f.pump(sctx, s, start, out)
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(s.token)}, nil
}

func (f *fanOutReader) subscribe(ctx context.Context, shardID string, start *types.StartingPosition) (*kinesis.SubscribeToShardOutput, error) {
	sub := f.sub
	if c, ok := sub.(*kinesis.Client); ok {
		// Two workarounds for aws-sdk-go-v2 (kinesis v1.56, smithy-go
		// v1.28) event streams:
		//  - one client per subscription: the event-stream decoder (the
		//    awsjson codec) keeps one payload buffer per client, so two
		//    subscriptions read through one client overwrite each other's
		//    events (the race detector shows it, and records go missing);
		//    kinesis.New gives the copy a protocol of its own;
		//  - the request body is handed to the transport as a copy: the
		//    SDK closes its body stream as soon as the operation returns,
		//    which for an event stream is right after the initial response
		//    and often before net/http's write loop made its last Read; that
		//    Read fails and the transport closes the connection under the
		//    live stream (streams/RATIONALE.md).
		sub = kinesis.New(c.Options(), func(o *kinesis.Options) {
			if o.HTTPClient != nil {
				o.HTTPClient = sdkhttp.DetachedBody{Inner: o.HTTPClient}
			}
		})
	}
	out, err := sub.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String(f.consumerARN), ShardId: aws.String(shardID), StartingPosition: start,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: subscribe to %s: %w", f.consumerARN, shardID, err)
	}
	return out, nil
}

// pump forwards one shard's pushed events until ctx ends or the shard
// does, subscribing again whenever a subscription ends.
func (f *fanOutReader) pump(ctx context.Context, s *subscription, start *types.StartingPosition, out *kinesis.SubscribeToShardOutput) {
	defer close(s.done)
	for attempt := 0; ; {
		stream := out.GetStream()
		for ev := range stream.Events() {
			e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
			if !ok {
				continue
			}
			attempt = 0
			p := pushed{records: e.Value.Records, behind: e.Value.MillisBehindLatest}
			if c := e.Value.ContinuationSequenceNumber; c != nil {
				start = &types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: c}
			}
			// The last event of a closed shard names its child shards (and
			// Kinesis leaves out the continuation; the KCL takes either as
			// the end).
			p.end = e.Value.ContinuationSequenceNumber == nil || len(e.Value.ChildShards) > 0
			select {
			case s.events <- p:
			case <-ctx.Done():
				stream.Close()
				return
			}
			if p.end {
				stream.Close()
				return
			}
		}
		err := stream.Err()
		stream.Close()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			f.log.Warn("enhanced fan-out subscription ended", "shard", s.shardID, "err", err)
		}
		// A subscription lasts five minutes; take the next one where this
		// one stopped.
		for {
			if clock.Sleep(ctx, f.clock, subscribeBackoff(attempt)) != nil {
				return
			}
			attempt++
			next, err := f.subscribe(ctx, s.shardID, start)
			if err == nil {
				out = next
				break
			}
			if ctx.Err() != nil {
				return
			}
			f.log.Warn("resubscribing", "shard", s.shardID, "err", err)
		}
	}
}

// subscribeBackoff is the pause before subscribing again: none after a
// subscription that ended normally, then growing (Kinesis allows one
// subscribe per second per consumer and shard).
func subscribeBackoff(attempt int) time.Duration {
	if attempt == 0 {
		return 0
	}
	return min(time.Second<<min(attempt-1, 4), 10*time.Second)
}

func (f *fanOutReader) lookup(token *string) (*subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.byToken[aws.ToString(token)]
	if s == nil {
		// The mapping renews an expired iterator from its last sequence
		// number, which starts a new subscription.
		return nil, &types.ExpiredIteratorException{Message: aws.String("the subscription behind this iterator was replaced or ended")}
	}
	return s, nil
}

// take moves a pushed event into the subscription's hand.
func (s *subscription) take(p pushed) {
	s.pending = append(s.pending, p.records...)
	if p.behind != nil {
		s.behind = p.behind
	}
	if p.end {
		s.ended = true
	}
}

func (f *fanOutReader) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	s, err := f.lookup(in.ShardIterator)
	if err != nil {
		return nil, err
	}
	for len(s.pending) == 0 && !s.ended {
		select {
		case p := <-s.events:
			s.take(p)
			continue
		default:
		}
		break
	}
	limit := 10000
	if in.Limit != nil && *in.Limit > 0 {
		limit = int(*in.Limit)
	}
	n := min(limit, len(s.pending))
	out := &kinesis.GetRecordsOutput{Records: s.pending[:n:n], MillisBehindLatest: s.behind, NextShardIterator: in.ShardIterator}
	s.pending = s.pending[n:]
	if s.ended && len(s.pending) == 0 {
		out.NextShardIterator = nil
		f.mu.Lock()
		delete(f.byToken, s.token)
		if f.byShard[s.shardID] == s {
			delete(f.byShard, s.shardID)
		}
		f.mu.Unlock()
		s.cancel()
	}
	return out, nil
}

// WaitForRecords waits for the next push to the subscription behind
// shardIterator (see Waiter).
func (f *fanOutReader) WaitForRecords(ctx context.Context, shardIterator string) error {
	s, err := f.lookup(&shardIterator)
	if err != nil {
		return nil // GetRecords reports it
	}
	if len(s.pending) > 0 || s.ended {
		return nil
	}
	select {
	case p := <-s.events:
		s.take(p)
		return nil
	case <-s.done:
		return errors.New("subscription ended")
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	_ Reader = (*fanOutReader)(nil)
	_ Waiter = (*fanOutReader)(nil)
)
