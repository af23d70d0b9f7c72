package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// StreamOrder reads stream and returns each event_id's rank in the order a
// consumer must see the records: shards in lineage order (a parent before
// its children, see readStream), each in sequence-number order. For records
// of one partition key the ranks are their order in the stream, across
// reshards too, since a key's records move from a parent to one child.
func StreamOrder(ctx context.Context, c *kinesis.Client, stream string) (map[string]int, error) {
	rank := map[string]int{}
	err := readStream(ctx, c, stream, func(_ string, r types.Record) {
		id := EventID(r.Data)
		if _, dup := rank[id]; !dup { // a producer's duplicate: the first copy sets the order
			rank[id] = len(rank)
		}
	})
	return rank, err
}

// OrderViolation is a pair of records of one key, in one partition of the
// bucket, delivered in the opposite order of the stream.
type OrderViolation struct {
	Partition, Key string
	Before, After  string // event ids: Before was delivered first but is later in the stream
}

func (v OrderViolation) String() string {
	return fmt.Sprintf("partition %s, key %s: %s delivered before %s", v.Partition, v.Key, v.Before, v.After)
}

// CheckKeyOrder checks that, within every partition (object key prefix up to
// the last '/') of the local bucket, each key's records appear in stream
// order. Objects of one partition are ordered by the first sink sequence
// number they hold (the "sequence-range" metadata the delivery stream keeps
// in metaDir, <state>/objects-meta/<bucket>), records by their place in the
// object. key extracts the partition key from a record (e.g. session_id).
// It returns the records checked and every violation found.
func CheckKeyOrder(bucketDir, metaDir string, rank map[string]int, key func([]byte) string) (int, []OrderViolation, error) {
	objs, err := ReadBucket(bucketDir)
	if err != nil {
		return 0, nil, err
	}
	type placed struct {
		Object
		first uint64
	}
	parts := map[string][]placed{}
	for _, o := range objs {
		raw, err := os.ReadFile(filepath.Join(metaDir, filepath.FromSlash(o.Key)+".json"))
		if err != nil {
			return 0, nil, fmt.Errorf("metadata of %s: %w", o.Key, err)
		}
		var meta struct {
			Extra map[string]string `json:"extra"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return 0, nil, fmt.Errorf("metadata of %s: %w", o.Key, err)
		}
		lo, _, ok := strings.Cut(meta.Extra["sequence-range"], "-")
		first, err := strconv.ParseUint(lo, 10, 64)
		if !ok || err != nil {
			return 0, nil, fmt.Errorf("metadata of %s: no sequence-range: %s", o.Key, raw)
		}
		part := o.Key[:strings.LastIndexByte(o.Key, '/')+1]
		parts[part] = append(parts[part], placed{o, first})
	}
	checked := 0
	var bad []OrderViolation
	for part, list := range parts {
		sort.Slice(list, func(i, j int) bool { return list[i].first < list[j].first })
		type last struct {
			id   string
			rank int
		}
		prev := map[string]last{}
		for _, o := range list {
			for _, rec := range o.Records {
				id := EventID(rec)
				r, ok := rank[id]
				if !ok {
					continue // not from the stream (the caller counts losses and strays)
				}
				checked++
				k := key(rec)
				if p, seen := prev[k]; seen && p.rank > r {
					bad = append(bad, OrderViolation{Partition: part, Key: k, Before: p.id, After: id})
				}
				prev[k] = last{id, r}
			}
		}
	}
	return checked, bad, nil
}
