package streams

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Capacity modes (docs/semantics.md, "Capacity modes"): UpdateStreamMode, and
// the on-demand autoscaler that splits hot shards of ON_DEMAND streams as
// traffic grows. AWS splits a shard that receives more than about 500 KB/s; we
// split one whose average over the heat window exceeds half of either write
// limit, or that throttled a record, at the middle of its hash range, at most
// one split per stream per check.

const (
	autoscaleEvery    = time.Second
	splitAtFraction   = 0.5
	modeSwitchesPer24 = 2
)

func (e *Engine) updateStreamMode(ctx context.Context, in *kinesis.UpdateStreamModeInput) (*kinesis.UpdateStreamModeOutput, error) {
	if in == nil {
		in = &kinesis.UpdateStreamModeInput{}
	}
	var v validation
	if in.StreamARN == nil {
		v.add(nil, "streamARN", "Member must not be null")
	}
	if in.StreamModeDetails == nil {
		v.add(nil, "streamModeDetails", "Member must not be null")
	} else if m := in.StreamModeDetails.StreamMode; m != types.StreamModeProvisioned && m != types.StreamModeOnDemand {
		v.add(string(m), "streamModeDetails.streamMode", "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	s, err := e.lookup(nil, in.StreamARN)
	if err != nil {
		return nil, err
	}
	mode := in.StreamModeDetails.StreamMode
	now := e.now()
	err = e.updateMeta(s, func() (func(), error) {
		if s.status != types.StreamStatusActive {
			return nil, errInUse("Stream %s under account %s not ACTIVE, instead in state %s", s.name, e.opts.AccountID, s.status)
		}
		if s.mode == mode {
			return nil, errInvalid("Stream %s under account %s is already in %s mode.", s.name, e.opts.AccountID, mode)
		}
		recent := 0
		for _, t := range s.modeSwitches {
			if now.Sub(t) < 24*time.Hour {
				recent++
			}
		}
		if recent >= modeSwitchesPer24 {
			return nil, errLimit("Stream %s under account %s has switched capacity mode %d times in the last 24 hours, the maximum.", s.name, e.opts.AccountID, modeSwitchesPer24)
		}
		old, oldSwitches := s.mode, s.modeSwitches
		s.mode = mode
		s.modeSwitches = append(append([]time.Time(nil), s.modeSwitches...), now)
		return func() { s.mode, s.modeSwitches = old, oldSwitches }, nil
	})
	if err != nil {
		return nil, err
	}
	// The shard count is kept at the switch; the stream is UPDATING for a
	// moment, as on AWS.
	if e.opts.CreateDelay > 0 {
		s.setStatus(types.StreamStatusUpdating)
		e.mu.Lock()
		if !e.closed {
			e.afterLocked(e.opts.CreateDelay, func() { s.setStatus(types.StreamStatusActive) })
		} else {
			s.status = types.StreamStatusActive
		}
		e.mu.Unlock()
	}
	return &kinesis.UpdateStreamModeOutput{}, nil
}

// autoscale splits at most one hot shard per ON_DEMAND stream.
func (e *Engine) autoscale() {
	e.mu.RLock()
	var ss []*stream
	for _, s := range e.streams {
		ss = append(ss, s)
	}
	e.mu.RUnlock()
	now := e.now().Unix()
	for _, s := range ss {
		s.mu.RLock()
		ok := s.mode == types.StreamModeOnDemand && s.status == types.StreamStatusActive && len(s.open) < maxShardsPerStream
		var hot *shard
		if ok {
			for _, sh := range s.open {
				h := sh.heat.report(sh.id, now)
				avg := max(h.WriteBytesPerSec/float64(writeBytesPerSec), h.WriteRecordsPerSec/writeRecordsPerSec)
				if (avg > splitAtFraction || h.Throttled > 0) && sh.start.cmp(sh.end) < 0 {
					hot = sh
					break
				}
			}
		}
		s.mu.RUnlock()
		if hot == nil {
			continue
		}
		mid := midpoint(hot.start, hot.end)
		_, err := e.splitShard(context.Background(), &kinesis.SplitShardInput{
			StreamName: aws.String(s.name), ShardToSplit: aws.String(hot.id), NewStartingHashKey: aws.String(mid.String()),
		})
		if err != nil {
			e.log.Warn("on-demand split", "stream", s.name, "shard", hot.id, "err", err)
			continue
		}
		e.log.Info("on-demand split of a hot shard", "stream", s.name, "shard", hot.id)
	}
}

// midpoint returns the first hash key of the upper half of [a, b] (a < b):
// floor((a+b)/2)+1, computed without overflowing 128 bits.
func midpoint(a, b u128) u128 {
	qa, ra := a.div64(2)
	qb, rb := b.div64(2)
	return qa.add(qb).add64((ra+rb)/2 + 1)
}
