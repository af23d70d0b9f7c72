package topk

import (
	"fmt"
	"testing"
)

func TestHeavyHittersSurvive(t *testing.T) {
	s := New(8)
	// 10,000 unique keys plus two heavy ones interleaved: 30% and 15%.
	for i := range 20000 {
		switch {
		case i%10 < 3:
			s.Add("hot", 1)
		case i%20 == 3 || i%20 == 4 || i%20 == 5:
			s.Add("warm", 1)
		default:
			s.Add(fmt.Sprint("k", i), 1)
		}
	}
	top := s.Top(2)
	if len(top) != 2 || top[0].Key != "hot" || top[1].Key != "warm" {
		t.Fatalf("top = %+v", top)
	}
	if lo, hi := top[0].Count-top[0].Err, top[0].Count; lo > 6000 || hi < 6000 {
		t.Fatalf("hot bounds [%d,%d] miss its true count 6000", lo, hi)
	}
	if s.Total() != 20000 {
		t.Fatalf("total %d", s.Total())
	}
}

func TestMergeAndBounds(t *testing.T) {
	a, b := New(2), New(2)
	a.Add("x", 5)
	a.Add("y", 1)
	b.Add("x", 2)
	b.Add("z", 3)
	a.Merge(b)
	if a.Total() != 11 {
		t.Fatalf("total %d", a.Total())
	}
	top := a.Top(5)
	if len(top) != 2 || top[0].Key != "x" || top[0].Count != 7 {
		t.Fatalf("merged top %+v", top)
	}
}
