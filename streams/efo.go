package streams

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream/eventstreamapi"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/clock"
)

// Enhanced fan-out (docs/semantics.md, "Enhanced fan-out"): registered
// consumers, and SubscribeToShard, which answers with an AWS event stream
// (application/vnd.amazon.eventstream) of SubscribeToShardEvent messages
// pushed as records commit, at most 2 MiB/s per subscription, for
// SubscribeDuration.
//
// AWS serves SubscribeToShard over HTTP/2. The Go SDK reads the event
// stream from any streaming HTTP response, so the plain-HTTP/1.1 Kinesis
// port serves it (chunked); no TLS port is needed for Go clients.

const (
	maxConsumers      = 20
	efoBytesPerSec    = 2 << 20
	efoMaxEventBytes  = 1 << 20
	efoHeartbeat      = 5 * time.Second
	resubscribeWindow = 5 * time.Second
	// efoEventWindow is how long one event may take to reach the
	// subscriber. A subscription lasts up to 5 minutes, longer than the
	// listener's WriteTimeout and ReadTimeout; each event (records, or a
	// heartbeat every efoHeartbeat) moves the connection's deadlines this
	// far ahead, so the timeouts cut off a subscriber that stopped
	// reading, never a healthy subscription.
	efoEventWindow = 30 * time.Second
)

// consumer is one registered enhanced fan-out consumer.
type consumer struct {
	name    string
	arn     string
	created time.Time
	status  types.ConsumerStatus // guarded by stream.mu
}

func (s *stream) newConsumer(name string, created time.Time) *consumer {
	return &consumer{
		name:    name,
		arn:     s.arn + "/consumer/" + name + ":" + strconv.FormatInt(created.Unix(), 10),
		created: created,
		status:  types.ConsumerStatusCreating,
	}
}

func (c *consumer) toAPI() types.Consumer {
	return types.Consumer{
		ConsumerName:              aws.String(c.name),
		ConsumerARN:               aws.String(c.arn),
		ConsumerStatus:            c.status,
		ConsumerCreationTimestamp: aws.Time(c.created),
	}
}

func validConsumerName(n string) bool { return validStreamName(n) }

// lookupConsumer finds a consumer by ARN, or by stream ARN and name.
func (e *Engine) lookupConsumer(streamARN, name, consumerARN *string) (*stream, *consumer, error) {
	if consumerARN != nil {
		i := strings.LastIndex(*consumerARN, "/consumer/")
		if i < 0 {
			return nil, nil, validationOf(*consumerARN, "consumerARN", "Member must satisfy regular expression pattern: ^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+$")
		}
		sarn := (*consumerARN)[:i]
		s, err := e.lookup(nil, &sarn)
		if err != nil {
			return nil, nil, err
		}
		s.mu.RLock()
		defer s.mu.RUnlock()
		for _, c := range s.consumers {
			if c.arn == *consumerARN {
				return s, c, nil
			}
		}
		return nil, nil, errNotFound("Consumer %s under account %s not found.", *consumerARN, e.opts.AccountID)
	}
	if streamARN == nil || name == nil {
		return nil, nil, errInvalid("Either ConsumerARN or both ConsumerName and StreamARN must be provided.")
	}
	s, err := e.lookup(nil, streamARN)
	if err != nil {
		return nil, nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c := s.consumers[*name]; c != nil {
		return s, c, nil
	}
	return nil, nil, errNotFound("Consumer %s under stream %s under account %s not found.", *name, s.name, e.opts.AccountID)
}

func (e *Engine) registerConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput) (*kinesis.RegisterStreamConsumerOutput, error) {
	if in == nil {
		in = &kinesis.RegisterStreamConsumerInput{}
	}
	var v validation
	if in.StreamARN == nil {
		v.add(nil, "streamARN", "Member must not be null")
	}
	if in.ConsumerName == nil {
		v.add(nil, "consumerName", "Member must not be null")
	} else if !validConsumerName(*in.ConsumerName) {
		v.add(*in.ConsumerName, "consumerName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	s, err := e.lookup(nil, in.StreamARN)
	if err != nil {
		return nil, err
	}
	var c *consumer
	err = e.updateMeta(s, func() (func(), error) {
		if s.consumers[*in.ConsumerName] != nil {
			return nil, errInUse("Consumer %s under stream %s already exists for account %s.", *in.ConsumerName, s.name, e.opts.AccountID)
		}
		if len(s.consumers) >= maxConsumers {
			return nil, errLimit("Stream %s under account %s already has %d consumers, the maximum.", s.name, e.opts.AccountID, maxConsumers)
		}
		c = s.newConsumer(*in.ConsumerName, e.now().Truncate(time.Millisecond))
		if e.opts.CreateDelay == 0 {
			c.status = types.ConsumerStatusActive
		}
		s.consumers[c.name] = c
		return func() { delete(s.consumers, c.name) }, nil
	})
	if err != nil {
		return nil, err
	}
	out := c.toAPI()
	if c.status == types.ConsumerStatusCreating {
		e.mu.Lock()
		if !e.closed {
			e.afterLocked(e.opts.CreateDelay, func() {
				s.mu.Lock()
				c.status = types.ConsumerStatusActive
				s.mu.Unlock()
			})
		}
		e.mu.Unlock()
	}
	return &kinesis.RegisterStreamConsumerOutput{Consumer: &out}, nil
}

func (e *Engine) describeConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput) (*kinesis.DescribeStreamConsumerOutput, error) {
	if in == nil {
		in = &kinesis.DescribeStreamConsumerInput{}
	}
	s, c, err := e.lookupConsumer(in.StreamARN, in.ConsumerName, in.ConsumerARN)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &kinesis.DescribeStreamConsumerOutput{ConsumerDescription: &types.ConsumerDescription{
		ConsumerName:              aws.String(c.name),
		ConsumerARN:               aws.String(c.arn),
		ConsumerStatus:            c.status,
		ConsumerCreationTimestamp: aws.Time(c.created),
		StreamARN:                 aws.String(s.arn),
	}}, nil
}

func (e *Engine) listConsumers(ctx context.Context, in *kinesis.ListStreamConsumersInput) (*kinesis.ListStreamConsumersOutput, error) {
	if in == nil {
		in = &kinesis.ListStreamConsumersInput{}
	}
	var v validation
	if in.StreamARN == nil {
		v.add(nil, "streamARN", "Member must not be null")
	}
	v.intRange(in.MaxResults, "maxResults", 1, 10000)
	if err := v.err(); err != nil {
		return nil, err
	}
	s, err := e.lookup(nil, in.StreamARN)
	if err != nil {
		return nil, err
	}
	limit := 100
	if in.MaxResults != nil {
		limit = int(*in.MaxResults)
	}
	after := ""
	if in.NextToken != nil {
		b, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		if err != nil || len(b) == 0 {
			return nil, errInvalid("Invalid NextToken.")
		}
		after = string(b)
	}
	s.mu.RLock()
	var cs []*consumer
	for _, c := range s.consumers {
		if c.name > after {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	out := &kinesis.ListStreamConsumersOutput{Consumers: []types.Consumer{}}
	for _, c := range cs[:min(limit, len(cs))] {
		out.Consumers = append(out.Consumers, c.toAPI())
	}
	s.mu.RUnlock()
	if len(cs) > limit {
		out.NextToken = aws.String(base64.RawURLEncoding.EncodeToString([]byte(*out.Consumers[limit-1].ConsumerName)))
	}
	return out, nil
}

func (e *Engine) deregisterConsumer(ctx context.Context, in *kinesis.DeregisterStreamConsumerInput) (*kinesis.DeregisterStreamConsumerOutput, error) {
	if in == nil {
		in = &kinesis.DeregisterStreamConsumerInput{}
	}
	s, c, err := e.lookupConsumer(in.StreamARN, in.ConsumerName, in.ConsumerARN)
	if err != nil {
		return nil, err
	}
	err = e.updateMeta(s, func() (func(), error) {
		if s.consumers[c.name] != c {
			return nil, errNotFound("Consumer %s under account %s not found.", c.arn, e.opts.AccountID)
		}
		delete(s.consumers, c.name)
		old := c.status
		c.status = types.ConsumerStatusDeleting
		return func() { s.consumers[c.name] = c; c.status = old }, nil
	})
	if err != nil {
		return nil, err
	}
	// End its subscriptions: they re-check the consumer when kicked.
	e.subMu.Lock()
	for k, sub := range e.subs {
		if k.consumer == c.arn {
			sub.kick()
		}
	}
	e.subMu.Unlock()
	return &kinesis.DeregisterStreamConsumerOutput{}, nil
}

// consumerCountLocked is DescribeStreamSummary's ConsumerCount. Callers
// hold s.mu.
func (s *stream) consumerCountLocked() int32 { return int32(len(s.consumers)) }

type subKey struct{ consumer, shard string }

// subscription is one live SubscribeToShard stream.
type subscription struct {
	started time.Time
	kicked  chan struct{} // closed when a newer subscription takes over
	once    bool
}

// kick ends the subscription. Callers hold e.subMu.
func (s *subscription) kick() {
	if !s.once {
		s.once = true
		close(s.kicked)
	}
}

// subscribeToShard serves SubscribeToShard: errors found before streaming
// are ordinary API errors; after the 200, everything is an event.
func (a *httpAPI) subscribeToShard(w http.ResponseWriter, r *http.Request, c codec, body []byte) {
	e := a.e
	in := new(kinesis.SubscribeToShardInput)
	if err := c.decode(body, in); err != nil {
		a.writeError(w, c, http.StatusBadRequest, "SerializationException", "failed to decode request: "+err.Error())
		return
	}
	s, cons, sh, pos, err := e.prepareSubscribe(in)
	if err != nil {
		a.writeErr(w, c, err)
		return
	}
	key := subKey{cons.arn, sh.id}
	now := e.now()
	sub := &subscription{started: now, kicked: make(chan struct{})}
	e.subMu.Lock()
	if old := e.subs[key]; old != nil {
		if now.Sub(old.started) < resubscribeWindow {
			e.subMu.Unlock()
			a.writeErr(w, c, errInUse("Another active subscription exists for consumer %s and shard %s; retry after %s.", cons.arn, sh.id, resubscribeWindow))
			return
		}
		old.kick()
	}
	e.subs[key] = sub
	e.subMu.Unlock()
	defer func() {
		e.subMu.Lock()
		if e.subs[key] == sub {
			delete(e.subs, key)
		}
		e.subMu.Unlock()
	}()

	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	es := &eventWriter{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder()}
	if es.event("initial-response", []byte("{}")) != nil {
		return
	}
	e.streamShard(r.Context(), es, s, cons, sh, pos, sub)
}

// prepareSubscribe validates a SubscribeToShard request and finds where it
// starts.
func (e *Engine) prepareSubscribe(in *kinesis.SubscribeToShardInput) (*stream, *consumer, *shard, uint64, error) {
	var v validation
	if in.ConsumerARN == nil {
		v.add(nil, "consumerARN", "Member must not be null")
	}
	if in.ShardId == nil {
		v.add(nil, "shardId", "Member must not be null")
	}
	if in.StartingPosition == nil {
		v.add(nil, "startingPosition", "Member must not be null")
	} else {
		switch in.StartingPosition.Type {
		case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber,
			types.ShardIteratorTypeTrimHorizon, types.ShardIteratorTypeLatest, types.ShardIteratorTypeAtTimestamp:
		default:
			v.add(string(in.StartingPosition.Type), "startingPosition.type", "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]")
		}
	}
	if err := v.err(); err != nil {
		return nil, nil, nil, 0, err
	}
	s, cons, err := e.lookupConsumer(nil, nil, in.ConsumerARN)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	s.mu.RLock()
	status := cons.status
	sh := s.shard(*in.ShardId)
	s.mu.RUnlock()
	if status != types.ConsumerStatusActive {
		return nil, nil, nil, 0, errInUse("Consumer %s under account %s is not ACTIVE, instead in state %s.", cons.arn, e.opts.AccountID, status)
	}
	if sh == nil {
		return nil, nil, nil, 0, errNotFound("Shard %s in stream %s under account %s does not exist", *in.ShardId, s.name, e.opts.AccountID)
	}
	sp := in.StartingPosition
	bySeq := sp.Type == types.ShardIteratorTypeAtSequenceNumber || sp.Type == types.ShardIteratorTypeAfterSequenceNumber
	if bySeq && sp.SequenceNumber == nil {
		return nil, nil, nil, 0, errInvalid("StartingPosition of type %s requires a SequenceNumber.", sp.Type)
	}
	pos, err := e.position(s, sh, sp.Type, sp.SequenceNumber, sp.Timestamp, e.now())
	if err != nil {
		return nil, nil, nil, 0, err
	}
	return s, cons, sh, pos, nil
}

// streamShard pushes records from pos until the subscription's time is up,
// the shard ends, the client goes away or a newer subscription takes over.
func (e *Engine) streamShard(ctx context.Context, es *eventWriter, s *stream, cons *consumer, sh *shard, pos uint64, sub *subscription) {
	deadline := e.clk.NewTimer(e.opts.SubscribeDuration)
	defer deadline.Stop()
	heartbeat := e.clk.NewTimer(efoHeartbeat)
	defer heartbeat.Stop()
	// lastSecs is the arrival second of the last record sent, for the
	// continuation number (its counter is what a resume reads).
	lastSecs := int64(sh.seq.created)
	// 2 MiB/s per subscription: a bucket of one second's worth.
	tokens := float64(efoBytesPerSec)
	last := e.clk.Now()
	for {
		changed := sh.log.Changed()
		now := e.clk.Now()
		el := now.Sub(last).Seconds()
		last = now
		tokens = min(efoBytesPerSec, tokens+el*efoBytesPerSec)
		if tokens <= 0 {
			// Over the rate: wait for the bucket to refill (a rate,
			// not a synchronisation).
			wait := time.Duration(-tokens / efoBytesPerSec * float64(time.Second))
			select {
			case <-e.clk.After(wait + time.Millisecond):
				continue
			case <-ctx.Done():
				return
			case <-sub.kicked:
				e.endKicked(es, s, cons)
				return
			case <-deadline.Chan():
				return
			}
		}
		recs, next, err := sh.log.Read(pos, s.trimHorizon(now), maxGetRecords, min(efoMaxEventBytes, int(tokens)), nil)
		if err != nil {
			es.exception("InternalFailureException", err.Error())
			return
		}
		tip, _ := sh.log.Tip()
		s.mu.RLock()
		closed := sh.closed
		var children []types.ChildShard
		atEnd := closed && next >= tip
		if atEnd {
			children = s.childrenLocked(sh)
		}
		s.mu.RUnlock()
		if len(recs) > 0 || atEnd || heartbeatDue(heartbeat) {
			apiRecs, n := fastRecords(sh.seq, recs)
			tokens -= float64(n)
			if len(recs) > 0 {
				lastSecs = recs[len(recs)-1].ArrivalMillis / 1000
			}
			ev := &types.SubscribeToShardEvent{
				Records:                    apiRecs,
				ContinuationSequenceNumber: aws.String(formatSeq(sh.seq, max(next, 1)-1, lastSecs)),
				MillisBehindLatest:         aws.Int64(0),
			}
			if next < tip && len(recs) > 0 {
				ev.MillisBehindLatest = aws.Int64(max(now.UnixMilli()-recs[len(recs)-1].ArrivalMillis, 0))
			}
			if atEnd {
				ev.ChildShards = children
				if ev.ChildShards == nil {
					ev.ChildShards = []types.ChildShard{}
				}
			}
			payload, err := jsonCodec{}.encode(nil, ev)
			if err != nil || es.event("SubscribeToShardEvent", payload) != nil {
				return
			}
			e.metrics.getRecords.WithLabelValues(s.name, sh.id).Add(float64(len(recs)))
			heartbeat.Reset(efoHeartbeat)
			pos = next
			if atEnd {
				return
			}
			if len(recs) > 0 {
				continue // more may be waiting
			}
		}
		select {
		case <-changed:
		case <-heartbeat.Chan():
			heartbeat.Reset(0) // make heartbeatDue true on the next round
		case <-ctx.Done():
			return
		case <-e.done:
			return
		case <-sub.kicked:
			e.endKicked(es, s, cons)
			return
		case <-deadline.Chan():
			return
		}
	}
}

// heartbeatDue reports whether the heartbeat timer has fired, consuming it.
func heartbeatDue(t clock.Timer) bool {
	select {
	case <-t.Chan():
		return true
	default:
		return false
	}
}

// endKicked tells a subscriber why its stream ends: a newer subscription
// took over, or the consumer was deregistered.
func (e *Engine) endKicked(es *eventWriter, s *stream, cons *consumer) {
	s.mu.RLock()
	gone := s.consumers[cons.name] != cons
	s.mu.RUnlock()
	if gone {
		es.exception("ResourceNotFoundException", fmt.Sprintf("Consumer %s under account %s not found.", cons.arn, e.opts.AccountID))
		return
	}
	es.exception("ResourceInUseException", fmt.Sprintf("Another subscription for consumer %s took over this shard.", cons.arn))
}

// eventWriter writes AWS event-stream messages and flushes each.
type eventWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc *eventstream.Encoder
}

func (es *eventWriter) event(typ string, payload []byte) error {
	var m eventstream.Message
	m.Headers.Set(eventstreamapi.MessageTypeHeader, eventstream.StringValue(eventstreamapi.EventMessageType))
	m.Headers.Set(eventstreamapi.EventTypeHeader, eventstream.StringValue(typ))
	m.Headers.Set(eventstreamapi.ContentTypeHeader, eventstream.StringValue("application/json"))
	m.Payload = payload
	return es.send(m)
}

func (es *eventWriter) exception(typ, msg string) error {
	var m eventstream.Message
	m.Headers.Set(eventstreamapi.MessageTypeHeader, eventstream.StringValue(eventstreamapi.ExceptionMessageType))
	m.Headers.Set(eventstreamapi.ExceptionTypeHeader, eventstream.StringValue(typ))
	m.Headers.Set(eventstreamapi.ContentTypeHeader, eventstream.StringValue("application/json"))
	m.Payload = jsonCodec{}.encodeError(nil, typ, msg)
	return es.send(m)
}

func (es *eventWriter) send(m eventstream.Message) error {
	es.extendDeadlines()
	if err := es.enc.Encode(es.w, m); err != nil {
		return err
	}
	return es.rc.Flush()
}

// extendDeadlines gives the next event efoEventWindow to be written. The
// read deadline moves too: over HTTP/1.1, net/http reads the connection in
// the background while a handler runs, and when the listener's ReadTimeout
// passes that read fails and cancels the request, ending the stream.
// Servers without deadlines (tests' recorders) report ErrNotSupported,
// which is harmless.
func (es *eventWriter) extendDeadlines() {
	// Socket deadlines are on the wall clock, whatever clock the engine
	// runs on.
	d := clock.Real().Now().Add(efoEventWindow)
	_ = es.rc.SetWriteDeadline(d)
	_ = es.rc.SetReadDeadline(d)
}
