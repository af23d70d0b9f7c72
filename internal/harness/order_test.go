package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestCheckKeyOrder(t *testing.T) {
	rank := map[string]int{"a1": 0, "b1": 1, "a2": 2, "a3": 3, "b2": 4}
	key := func(rec []byte) string { return EventID(rec)[:1] }
	for _, tc := range []struct {
		name             string
		first, second    string // the two objects' sequence ranges
		firstRecs, other string
		wantBad          int
	}{
		{"in order", "1-3", "4-5", "a1 b1 a2", "a3 b2", 0},
		{"objects swapped by their ranges", "4-6", "1-2", "a1 b1 a2", "a3 b2", 2},
		{"records swapped in an object", "1-3", "4-5", "a2 b1 a1", "a3 b2", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket, meta := t.TempDir(), t.TempDir()
			writeObject(t, bucket, meta, "p/x.json", tc.firstRecs, tc.first)
			writeObject(t, bucket, meta, "p/y.json", tc.other, tc.second)
			checked, bad, err := CheckKeyOrder(bucket, meta, rank, key)
			if err != nil {
				t.Fatal(err)
			}
			if checked != 5 || len(bad) != tc.wantBad {
				t.Fatalf("checked %d, violations %v; want 5 checked, %d violations", checked, bad, tc.wantBad)
			}
		})
	}
}

func writeObject(t *testing.T, bucket, meta, key, ids, seqRange string) {
	t.Helper()
	var body []byte
	for _, id := range strings.Fields(ids) {
		body = append(body, `{"event_id":"`+id+`"}`+"\n"...)
	}
	for path, data := range map[string][]byte{
		filepath.Join(bucket, key):       body,
		filepath.Join(meta, key+".json"): []byte(`{"extra":{"sequence-range":"` + seqRange + `"}}`),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLineageOrder(t *testing.T) {
	sh := func(id, parent, adjacent string) types.Shard {
		s := types.Shard{ShardId: aws.String(id)}
		if parent != "" {
			s.ParentShardId = aws.String(parent)
		}
		if adjacent != "" {
			s.AdjacentParentShardId = aws.String(adjacent)
		}
		return s
	}
	// Listed children first: a merge (m of a and b) and a split of m.
	got := lineageOrder([]types.Shard{sh("s2", "m", ""), sh("m", "a", "b"), sh("b", "", ""), sh("a", "", ""), sh("s1", "m", "")})
	var ids []string
	for _, s := range got {
		ids = append(ids, aws.ToString(s.ShardId))
	}
	pos := map[string]int{}
	for i, id := range ids {
		pos[id] = i
	}
	for child, parents := range map[string][]string{"m": {"a", "b"}, "s1": {"m"}, "s2": {"m"}} {
		for _, p := range parents {
			if pos[p] > pos[child] {
				t.Errorf("order %v: parent %s after child %s", ids, p, child)
			}
		}
	}
	if len(ids) != 5 {
		t.Errorf("order %v: want all 5 shards once", ids)
	}
}
