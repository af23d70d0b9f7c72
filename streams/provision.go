package streams

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// StreamSpec is a stream as a template declares it (AWS::Kinesis::Stream).
type StreamSpec struct {
	Name string
	// ShardCount is the provisioned shard count; an ON_DEMAND stream starts
	// with it too (4 on AWS).
	ShardCount int
	// Mode is PROVISIONED (also when empty) or ON_DEMAND.
	Mode types.StreamMode
	// RetentionHours is 24 (also when 0) to 8760.
	RetentionHours int
}

// EnsureStream makes the stream exist as spec says: it creates it, or
// brings an existing stream's capacity mode and retention period to spec,
// as a CloudFormation update would. An existing stream's shard count is
// left alone: resharding and on-demand scaling change it on purpose, and a
// restart must not undo them. It reports what it changed.
func (e *Engine) EnsureStream(ctx context.Context, spec StreamSpec) (changes []string, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mode := spec.Mode
	if mode == "" {
		mode = types.StreamModeProvisioned
	}
	if mode != types.StreamModeProvisioned && mode != types.StreamModeOnDemand {
		return nil, fmt.Errorf("stream %s: capacity mode %q is not PROVISIONED or ON_DEMAND", spec.Name, mode)
	}
	hours := int32(spec.RetentionHours)
	if hours == 0 {
		hours = defaultRetain
	}
	if hours < defaultRetain || hours > 8760 {
		return nil, fmt.Errorf("stream %s: retention %d hours is outside 24–8760", spec.Name, hours)
	}
	if !validStreamName(spec.Name) {
		return nil, fmt.Errorf("stream %q: invalid name: want 1-128 of [a-zA-Z0-9_.-]", spec.Name)
	}
	if spec.ShardCount < 1 || spec.ShardCount > maxShardsPerStream {
		return nil, fmt.Errorf("stream %s: shard count %d out of range [1, %d]", spec.Name, spec.ShardCount, maxShardsPerStream)
	}
	s, err := e.createStream(spec.Name, spec.ShardCount, mode, nil, 1024, true)
	var inUse *types.ResourceInUseException
	switch {
	case err == nil:
		changes = append(changes, fmt.Sprintf("created with %d shards in %s mode", spec.ShardCount, mode))
	case errors.As(err, &inUse):
		if s, err = e.lookup(aws.String(spec.Name), nil); err != nil {
			return nil, fmt.Errorf("stream %s: %w", spec.Name, err)
		}
		s.mu.RLock()
		cur := s.mode
		s.mu.RUnlock()
		if cur != mode {
			in := &kinesis.UpdateStreamModeInput{StreamARN: aws.String(s.arn), StreamModeDetails: &types.StreamModeDetails{StreamMode: mode}}
			if _, err := e.updateStreamMode(ctx, in); err != nil {
				return changes, fmt.Errorf("stream %s: capacity mode %s → %s: %w", spec.Name, cur, mode, err)
			}
			changes = append(changes, fmt.Sprintf("capacity mode %s → %s", cur, mode))
		}
	default:
		return nil, fmt.Errorf("stream %s: %w", spec.Name, err)
	}
	s.mu.RLock()
	cur := s.retention
	s.mu.RUnlock()
	if cur != hours {
		if err := e.changeRetention(aws.String(spec.Name), nil, &hours, hours > cur); err != nil {
			return changes, fmt.Errorf("stream %s: retention %d → %d hours: %w", spec.Name, cur, hours, err)
		}
		changes = append(changes, fmt.Sprintf("retention %d → %d hours", cur, hours))
	}
	return changes, nil
}

// EnsureConsumer registers the enhanced fan-out consumer name on stream
// unless it is registered already, and returns its ARN. Consumers are
// kept across restarts, so the ARN (which ends in the registration time)
// stays the same for the life of the stream.
func (e *Engine) EnsureConsumer(ctx context.Context, stream, name string) (string, error) {
	s, err := e.lookup(aws.String(stream), nil)
	if err != nil {
		return "", fmt.Errorf("consumer %s: %w", name, err)
	}
	if _, c, err := e.lookupConsumer(aws.String(s.arn), aws.String(name), nil); err == nil {
		return c.arn, nil
	}
	out, err := e.registerConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(s.arn), ConsumerName: aws.String(name)})
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) { // registered meanwhile
		_, c, err := e.lookupConsumer(aws.String(s.arn), aws.String(name), nil)
		if err != nil {
			return "", fmt.Errorf("consumer %s of %s: %w", name, stream, err)
		}
		return c.arn, nil
	}
	if err != nil {
		return "", fmt.Errorf("consumer %s of %s: %w", name, stream, err)
	}
	return aws.ToString(out.Consumer.ConsumerARN), nil
}
