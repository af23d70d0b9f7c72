// Package topk finds the heaviest keys of a stream in bounded memory with
// the space-saving algorithm (Metwally, Agrawal, El Abbadi, 2005): k
// counters; a new key evicts the smallest counter and inherits its count
// as an overestimate. Any key with more than n/k of n observations is
// guaranteed to be held, and a held key's count exceeds its true count by
// at most its Err.
package topk

import "sort"

// Item is one tracked key: Count is an upper bound of its true count, and
// Count-Err a lower bound.
type Item struct {
	Key   string
	Count int64
	Err   int64
}

// Sketch tracks at most K keys. The zero value is not usable; use New. It
// is not safe for concurrent use.
type Sketch struct {
	k     int
	items []Item
	index map[string]int
	total int64
}

// New returns a sketch holding at most k keys.
func New(k int) *Sketch {
	return &Sketch{k: max(k, 1), index: make(map[string]int, k)}
}

// Add counts n observations of key.
func (s *Sketch) Add(key string, n int64) {
	s.total += n
	if i, ok := s.index[key]; ok {
		s.items[i].Count += n
		return
	}
	if len(s.items) < s.k {
		s.index[key] = len(s.items)
		s.items = append(s.items, Item{Key: key, Count: n})
		return
	}
	m := 0
	for i := range s.items {
		if s.items[i].Count < s.items[m].Count {
			m = i
		}
	}
	old := s.items[m]
	delete(s.index, old.Key)
	s.index[key] = m
	s.items[m] = Item{Key: key, Count: old.Count + n, Err: old.Count}
}

// Total is the number of observations added.
func (s *Sketch) Total() int64 { return s.total }

// Top returns up to n items, heaviest first.
func (s *Sketch) Top(n int) []Item {
	out := append([]Item(nil), s.items...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out[:min(n, len(out))]
}

// Merge adds o's items to s (counts and errors add up).
func (s *Sketch) Merge(o *Sketch) {
	for _, it := range o.items {
		before := s.total
		s.Add(it.Key, it.Count)
		s.total = before
		if i, ok := s.index[it.Key]; ok {
			s.items[i].Err += it.Err
		}
	}
	s.total += o.total
}
