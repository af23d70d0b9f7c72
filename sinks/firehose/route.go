package firehose

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/valyala/fastjson"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/sinks/firehose/convert"
	"github.com/sluice-dev/sluice/sinks/firehose/internal/fastparse"
)

// This file is routing: deciding, at Accept, where each record goes (its
// partition keys, the format-conversion verdict, the prefix checks), with
// caches so that records of a partition already seen skip most of it.

// route is where a record goes: a partition of the data prefix (its keys)
// or the error output (its error). Routes are decided once, at Accept, and
// stored in the write-ahead log, so that replay never re-runs the query
// (which may use `now`) or re-counts active partitions.
//
// The JSON names are short because every batch entry of the log carries
// its routes; they are the log's format and do not change.
type route struct {
	QueryKeys  map[string]string `json:"q,omitempty"`  // partitionKeyFromQuery values
	LambdaKeys map[string]string `json:"l,omitempty"`  // partitionKeyFromLambda values
	ErrType    string            `json:"et,omitempty"` // error output type
	ErrCode    string            `json:"ec,omitempty"` // error code
	ErrMsg     string            `json:"em,omitempty"` // error message

	part    string // partition id, derived
	endedMs int64  // accept time of the batch: the envelope's attemptEndingTimestamp
}

// partID names the buffer a route feeds: one per distinct set of key
// values, one per error output type.
func (r *route) partID() string {
	if r.ErrType != "" {
		return "error:" + r.ErrType
	}
	b, _ := json.Marshal(struct {
		QueryKeys  map[string]string `json:"q,omitempty"`
		LambdaKeys map[string]string `json:"l,omitempty"`
	}{r.QueryKeys, r.LambdaKeys}) // map keys are sorted: canonical
	return "data:" + string(b)
}

// router decides routes. Its configuration is fixed when the stream opens;
// its only mutable state, the route memo, has its own lock, so batches
// from different sources route in parallel.
type router struct {
	cc         *compiled
	queryKeys  []string  // partitionKeyFromQuery names the prefix uses
	lambdaKeys []string  // partitionKeyFromLambda names the prefix uses
	memo       routeMemo // data routes decided by earlier batches
}

func newRouter(cc *compiled) *router {
	return &router{cc: cc, queryKeys: cc.prefix.keys(segQueryKey), lambdaKeys: cc.prefix.keys(segLambdaKey)}
}

// activePartitionExceeded is the route of records that would open a
// partition beyond MaxActivePartitions.
func activePartitionExceeded(limit int) *route {
	rt := &route{ErrType: ErrTypeActivePartitionExceeded, ErrCode: codeActivePartitions,
		ErrMsg: fmt.Sprintf("The number of active partitions exceeds the limit of %d", limit)}
	rt.part = rt.partID()
	return rt
}

// route decides each record's route. It runs outside every lock of the
// stream: the JQ query is the expensive part of Accept and batches from
// different sources should not queue behind each other for it.
func (ro *router) route(recs []handover.Record) []*route {
	out := make([]*route, len(recs))
	if !ro.cc.cfg.DynamicPartitioning && ro.cc.conv == nil {
		rt := &route{}
		rt.part = rt.partID()
		for i := range out {
			out[i] = rt
		}
		return out
	}
	// The budget bounds CPU spent in gojq, so it is wall-clock time even
	// when the stream runs on a fake clock: a replay must not hang on a
	// query that loops.
	ctx, cancel := context.WithTimeout(context.Background(), jqBudget)
	defer cancel()
	p := fastparse.Pool.Get()
	defer fastparse.Pool.Put(p)
	parse := ro.cc.conv != nil || (len(ro.queryKeys) > 0 && ro.cc.query.fast != nil)
	var sc convert.Scratch
	rc := routeCache{m: map[string]*cachedRoute{}, subSecond: ro.cc.prefix.subSecond()}
	seen := map[routeKey]*route{}
	for i, r := range recs {
		var v *fastjson.Value
		if parse {
			v = fastparse.Record(p, r.Data)
		}
		rt := ro.routeOne(ctx, r, v, &sc, &rc)
		k := routeKey{rt.part, rt.ErrMsg}
		if prev, ok := seen[k]; ok {
			rt = prev
		} else {
			seen[k] = rt
		}
		out[i] = rt
	}
	return out
}

type routeKey struct{ part, errMsg string }

// routeCache remembers, within one batch, the data route of each distinct
// tuple of partition key values, so that the records of a partition
// already seen skip building key maps, measuring the prefix (rule 6's
// length check) and naming the partition. The check depends on the
// arrival time too, so an entry holds for the second it was made in (the
// nanosecond when the prefix formats fractions of a second). Behind it,
// the stream's routeMemo carries routes from batch to batch.
type routeCache struct {
	key       []byte
	m         map[string]*cachedRoute
	subSecond bool
}

type cachedRoute struct {
	rt  *route
	at  int64  // time bucket the prefix was checked for
	key string // the tuple
}

// routeMemo is routeCache across batches. Each batch gets its own copy of
// a route (Accept stamps routes with the batch's time); the copies share
// the key maps, which nothing modifies. It is emptied when it reaches
// routeMemoMax entries, which bounds it without bookkeeping.
type routeMemo struct {
	mu sync.Mutex
	m  map[string]*cachedRoute
}

const routeMemoMax = 4096

func (m *routeMemo) get(tuple []byte, at int64) *cachedRoute {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.m[string(tuple)]; c != nil && c.at == at {
		return c
	}
	return nil
}

func (m *routeMemo) put(c *cachedRoute) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= routeMemoMax {
		m.m = make(map[string]*cachedRoute)
	}
	m.m[c.key] = c
}

// routeOne runs the stages that can fail a record in Firehose's order
// (docs/semantics.md, "Firehose processing order"): partition keys, then
// format conversion. v is the record parsed by fastParse (or nil), shared by
// both.
func (ro *router) routeOne(ctx context.Context, r handover.Record, v *fastjson.Value, sc *convert.Scratch, rc *routeCache) *route {
	rt := ro.routeKeysCached(ctx, r, v, rc)
	if ro.cc.conv == nil || rt.ErrType != "" {
		return rt
	}
	if err := ro.cc.conv.Check(v, r.Data, sc); err != nil {
		rt = &route{ErrType: ErrTypeFormatConversion, ErrCode: codeFormatConversion, ErrMsg: err.Error()}
		rt.part = rt.partID()
	}
	return rt
}

// routeKeysCached is routeKeys through the batch's routeCache.
func (ro *router) routeKeysCached(ctx context.Context, r handover.Record, v *fastjson.Value, rc *routeCache) *route {
	tuple, ok := rc.key[:0], true
	if len(ro.queryKeys) > 0 {
		if v == nil || ro.cc.query.fast == nil {
			return ro.routeKeys(ctx, r, v)
		}
		tuple, ok = ro.cc.query.appendDirect(tuple, v, ro.queryKeys)
	}
	for _, k := range ro.lambdaKeys {
		if !ok {
			break
		}
		var val string
		if val, ok = r.PartitionKeys[k]; ok {
			tuple = binary.AppendUvarint(tuple, uint64(len(val)))
			tuple = append(tuple, val...)
		}
	}
	rc.key = tuple
	if !ok {
		return ro.routeKeys(ctx, r, v) // an error: routeKeys words it
	}
	at := r.ArrivalTime.Unix()
	if rc.subSecond {
		at = r.ArrivalTime.UnixNano()
	}
	if c := rc.m[string(tuple)]; c != nil && c.at == at {
		return c.rt
	}
	if g := ro.memo.get(tuple, at); g != nil {
		rt := *g.rt
		rc.m[g.key] = &cachedRoute{rt: &rt, at: at, key: g.key}
		return &rt
	}
	var q map[string]string
	if len(ro.queryKeys) > 0 {
		q = splitTuple(tuple, ro.queryKeys) // the tuple starts with the query's keys
	}
	rt := ro.routeWith(r, q)
	if rt.ErrType == "" {
		key := string(tuple)
		tmpl := *rt
		ro.memo.put(&cachedRoute{rt: &tmpl, at: at, key: key})
		rc.m[key] = &cachedRoute{rt: rt, at: at, key: key}
	}
	return rt
}

// routeKeys decides a record's partition; v is the record parsed by
// fastParse, or nil.
func (ro *router) routeKeys(ctx context.Context, r handover.Record, v *fastjson.Value) *route {
	var q map[string]string
	if len(ro.queryKeys) > 0 {
		keys, rerr := extractKeysParsed(ctx, ro.cc.query, v, r.Data, ro.queryKeys)
		if rerr != nil {
			return failRoute(rerr)
		}
		q = keys
	}
	return ro.routeWith(r, q)
}

// failRoute is the error route of a record that cannot be partitioned.
func failRoute(e *recordError) *route {
	rt := &route{ErrType: e.Type, ErrCode: e.Code, ErrMsg: e.Message}
	rt.part = rt.partID()
	return rt
}

// routeWith is routeKeys once the query's keys are known: the function's
// keys and rule 6.
func (ro *router) routeWith(r handover.Record, q map[string]string) *route {
	rt := &route{QueryKeys: q}
	if len(ro.lambdaKeys) > 0 {
		rt.LambdaKeys = make(map[string]string, len(ro.lambdaKeys))
		for _, k := range ro.lambdaKeys {
			v, ok := r.PartitionKeys[k]
			if !ok {
				return failRoute(&recordError{Type: ErrTypeMetadataExtraction, Code: codeMetadataExtraction,
					Message: fmt.Sprintf("partition key %q not found in the record's partitionKeys", k)})
			}
			rt.LambdaKeys[k] = v
		}
	}
	// Rule 6: the evaluated prefix must fit in 512 characters; and the
	// key it starts must be one S3 takes (checkObjectKey).
	err := ro.cc.prefix.check(renderInput{Time: r.ArrivalTime.In(ro.cc.loc), Query: rt.QueryKeys, Lambda: rt.LambdaKeys},
		ro.cc.objectNameLen(rt))
	if err != nil {
		return failRoute(&recordError{Type: ErrTypePrefixEvaluation, Code: codePrefixEvaluation, Message: err.Error()})
	}
	rt.part = rt.partID()
	return rt
}
