package streams

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/streams/capacity"
	"github.com/sluice-dev/sluice/streams/internal/topk"
)

// Hot-shard tracking for `sluice streams hot`: per shard, acknowledged
// writes and throttled records in one-second buckets over the last
// heatWindow seconds, and the heaviest partition keys in a space-saving
// sketch of heatKeys counters per minute (the current and the previous
// minute are reported). Memory is bounded per shard whatever the key
// cardinality.

const (
	heatWindow = 10 // seconds
	heatKeys   = 32 // counters per sketch; keys above 1/32 of writes are always found
	heatEpoch  = 60 // seconds per sketch
	hotAt      = 0.8
)

type heatBucket struct{ sec, bytes, recs, throttled int64 }

type heat struct {
	mu        sync.Mutex
	buckets   [heatWindow]heatBucket
	cur, prev *topk.Sketch
	epoch     int64
}

func (h *heat) bucketLocked(sec int64) *heatBucket {
	b := &h.buckets[sec%heatWindow]
	if b.sec != sec {
		*b = heatBucket{sec: sec}
	}
	return b
}

func (h *heat) sketchLocked(sec int64) *topk.Sketch {
	ep := sec / heatEpoch
	if h.cur == nil || ep != h.epoch {
		if h.cur != nil && ep == h.epoch+1 {
			h.prev = h.cur
		} else {
			h.prev = nil
		}
		h.cur, h.epoch = topk.New(heatKeys), ep
	}
	return h.cur
}

// observe counts acknowledged entries.
func (h *heat) observe(now time.Time, entries []shardEntry) {
	sec := now.Unix()
	h.mu.Lock()
	b := h.bucketLocked(sec)
	sk := h.sketchLocked(sec)
	for i := range entries {
		b.recs++
		b.bytes += int64(len(entries[i].Data) + len(entries[i].Key))
		sk.Add(entries[i].Key, 1)
	}
	h.mu.Unlock()
}

// throttled counts records refused for throughput, by key: a throttled
// key is as much a sign of a hot key as a written one.
func (h *heat) throttled(now time.Time, key string) {
	sec := now.Unix()
	h.mu.Lock()
	h.bucketLocked(sec).throttled++
	h.sketchLocked(sec).Add(key, 1)
	h.mu.Unlock()
}

// ShardHeat is one open shard's recent write load.
type ShardHeat struct {
	ShardID            string  `json:"shardId"`
	WriteBytesPerSec   float64 `json:"writeBytesPerSec"`
	WriteRecordsPerSec float64 `json:"writeRecordsPerSec"`
	// Utilisation is the busiest second of the window against the write
	// limits: the larger of bytes/1 MiB and records/1,000 (bursts are what
	// throttles, so an average would hide them).
	Utilisation float64 `json:"utilisation"`
	// Throttled counts records refused with
	// ProvisionedThroughputExceededException in the window.
	Throttled int64      `json:"throttled"`
	TopKeys   []KeyShare `json:"topKeys"`
}

// KeyShare is a partition key's share of a shard's writes (including
// throttled attempts) over the last one to two minutes. Records is an
// upper bound (space-saving sketch).
type KeyShare struct {
	Key     string  `json:"key"`
	Records int64   `json:"records"`
	Share   float64 `json:"share"`
}

// HotReport is Engine.Hot's answer.
type HotReport struct {
	Stream        string      `json:"stream"`
	Mode          string      `json:"mode"`
	WindowSeconds int         `json:"windowSeconds"`
	Limits        bool        `json:"limitsEnforced"`
	Shards        []ShardHeat `json:"shards"`
	Advice        []string    `json:"advice"`
}

// Hot reports per-shard write utilisation of the stream's open shards in
// the last ten seconds (throttled attempts count as demand), throttled records, the partition keys that
// dominate each shard, and advice. Shards are sorted hottest first. A
// stream that does not exist is a *types.ResourceNotFoundException.
func (e *Engine) Hot(name string) (HotReport, error) {
	s, err := e.lookup(&name, nil)
	if err != nil {
		return HotReport{}, err
	}
	s.mu.RLock()
	open := append([]*shard(nil), s.open...)
	mode := string(s.mode)
	s.mu.RUnlock()
	now := e.now().Unix()
	r := HotReport{Stream: name, Mode: mode, WindowSeconds: heatWindow, Limits: e.opts.Limits}
	for _, sh := range open {
		r.Shards = append(r.Shards, sh.heat.report(sh.id, now))
	}
	sort.SliceStable(r.Shards, func(i, j int) bool { return r.Shards[i].Utilisation > r.Shards[j].Utilisation })
	for _, h := range r.Shards {
		if h.Utilisation < hotAt && h.Throttled == 0 {
			continue
		}
		if len(h.TopKeys) > 0 && h.TopKeys[0].Share >= 0.5 {
			r.Advice = append(r.Advice, fmt.Sprintf("%s is at %.0f%% of its write limit and partition key %q carries %.0f%% of its writes: more shards cannot spread one key; raise key cardinality (e.g. add a random or per-entity suffix to that key).",
				h.ShardID, 100*h.Utilisation, h.TopKeys[0].Key, 100*h.TopKeys[0].Share))
		} else {
			r.Advice = append(r.Advice, fmt.Sprintf("%s is at %.0f%% of its write limit with its keys spread: split it (SplitShard) or raise the shard count (UpdateShardCount); `sluice streams plan` sizes the stream.",
				h.ShardID, 100*h.Utilisation))
		}
	}
	if len(r.Advice) == 0 {
		r.Advice = []string{fmt.Sprintf("No shard is hot: every open shard is below %.0f%% of its write limits and none was throttled in the last %d s.", 100*hotAt, heatWindow)}
	}
	return r, nil
}

func (h *heat) report(id string, now int64) ShardHeat {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := ShardHeat{ShardID: id, TopKeys: []KeyShare{}}
	var bytes, recs int64
	for _, b := range h.buckets {
		if b.sec > now-heatWindow && b.sec <= now {
			bytes += b.bytes
			recs += b.recs
			out.Throttled += b.throttled
			out.Utilisation = max(out.Utilisation, capacity.Utilisation(float64(b.bytes), float64(b.recs+b.throttled)))
		}
	}
	out.WriteBytesPerSec = float64(bytes) / heatWindow
	out.WriteRecordsPerSec = float64(recs) / heatWindow
	if h.cur == nil || now/heatEpoch > h.epoch+1 {
		return out // nothing written for two minutes
	}
	sk := topk.New(heatKeys)
	if now/heatEpoch == h.epoch {
		sk.Merge(h.cur)
		if h.prev != nil {
			sk.Merge(h.prev)
		}
	} else {
		sk.Merge(h.cur) // cur is now the previous minute
	}
	for _, it := range sk.Top(5) {
		out.TopKeys = append(out.TopKeys, KeyShare{Key: it.Key, Records: it.Count, Share: float64(it.Count) / float64(max(sk.Total(), 1))})
	}
	return out
}
