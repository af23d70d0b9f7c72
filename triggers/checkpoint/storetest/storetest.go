// Package storetest is the conformance suite every checkpoint store must pass:
// positions are captured exactly, survive a restart, are isolated per mapping
// and shard, and concurrent owners of a shard are fenced so that only the
// latest claimant can move its checkpoint.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) string { return t.TempDir() }, myOpener)
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/triggers/checkpoint"
)

// Run runs the suite. location returns a fresh location (a directory, a
// DSN with a fresh schema…) per test; open opens a store at a location.
// Two stores opened at the same location stand for two processes sharing
// it.
func Run(t *testing.T, location func(t *testing.T) string, open checkpoint.Opener) {
	ctx := context.Background()
	mustOpen := func(t *testing.T, loc string) checkpoint.Store {
		t.Helper()
		s, err := open(loc)
		if err != nil {
			t.Fatalf("open %s: %v", loc, err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}

	t.Run("capture", func(t *testing.T) {
		s := mustOpen(t, location(t))
		pos, err := s.Get(ctx, "m-1", "shardId-000000000000")
		if err != nil || pos != (checkpoint.Position{}) {
			t.Fatalf("unknown shard: %+v, %v; want the zero Position", pos, err)
		}
		claimed, err := s.Claim(ctx, "m-1", "shardId-000000000000", "a")
		if err != nil || claimed.Epoch == 0 {
			t.Fatalf("claim: %+v, %v", claimed, err)
		}
		// Sequence numbers are decimal strings of any length
		// (docs/semantics.md, "Sequence numbers").
		seq := "49650000000000000000000000000000000000000000000000000001"
		if err := s.Put(ctx, "m-1", "shardId-000000000000", checkpoint.Position{SequenceNumber: seq, Epoch: claimed.Epoch}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "m-1", "shardId-000000000000")
		if err != nil || got.SequenceNumber != seq || got.Epoch != claimed.Epoch || got.Owner != "a" {
			t.Fatalf("after Put: %+v, %v", got, err)
		}
		if err := s.Put(ctx, "m-1", "shardId-000000000000", checkpoint.Position{SequenceNumber: seq, ShardEnd: true, Epoch: claimed.Epoch}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, "m-1", "shardId-000000000000"); !got.ShardEnd {
			t.Errorf("ShardEnd lost: %+v", got)
		}
		// Isolation: other shards and other mappings are untouched.
		for _, k := range [][2]string{{"m-1", "shardId-000000000001"}, {"m-2", "shardId-000000000000"}} {
			if got, _ := s.Get(ctx, k[0], k[1]); got.SequenceNumber != "" {
				t.Errorf("%s/%s: %+v, want nothing", k[0], k[1], got)
			}
		}
	})

	t.Run("restart", func(t *testing.T) {
		loc := location(t)
		s := mustOpen(t, loc)
		c, err := s.Claim(ctx, "m-1", "shard-a", "a")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "m-1", "shard-a", checkpoint.Position{SequenceNumber: "42", Epoch: c.Epoch}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		again := mustOpen(t, loc)
		got, err := again.Get(ctx, "m-1", "shard-a")
		if err != nil || got.SequenceNumber != "42" || got.Epoch != c.Epoch {
			t.Fatalf("after restart: %+v, %v", got, err)
		}
		// A restarted owner claims again and carries on.
		c2, err := again.Claim(ctx, "m-1", "shard-a", "a")
		if err != nil || c2.Epoch <= c.Epoch || c2.SequenceNumber != "42" {
			t.Fatalf("re-claim: %+v, %v", c2, err)
		}
		if err := again.Put(ctx, "m-1", "shard-a", checkpoint.Position{SequenceNumber: "43", Epoch: c2.Epoch}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("concurrent owners are fenced", func(t *testing.T) {
		loc := location(t)
		a, b := mustOpen(t, loc), mustOpen(t, loc) // two processes
		ca, err := a.Claim(ctx, "m-1", "s", "a")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Put(ctx, "m-1", "s", checkpoint.Position{SequenceNumber: "10", Epoch: ca.Epoch}); err != nil {
			t.Fatal(err)
		}
		cb, err := b.Claim(ctx, "m-1", "s", "b")
		if err != nil || cb.Epoch <= ca.Epoch || cb.SequenceNumber != "10" {
			t.Fatalf("b's claim: %+v, %v", cb, err)
		}
		// a, paused while b took over, wakes up and tries to write.
		err = a.Put(ctx, "m-1", "s", checkpoint.Position{SequenceNumber: "11", Epoch: ca.Epoch})
		if !errors.Is(err, checkpoint.ErrFenced) {
			t.Fatalf("stale owner's Put: %v, want ErrFenced", err)
		}
		if err := b.Put(ctx, "m-1", "s", checkpoint.Position{SequenceNumber: "12", Epoch: cb.Epoch}); err != nil {
			t.Fatal(err)
		}
		got, _ := a.Get(ctx, "m-1", "s")
		if got.SequenceNumber != "12" || got.Owner != "b" {
			t.Errorf("position %+v, want b's 12", got)
		}
	})

	t.Run("racing claims: exactly the last claimant writes", func(t *testing.T) {
		loc := location(t)
		stores := []checkpoint.Store{mustOpen(t, loc), mustOpen(t, loc)}
		const owners = 16
		epochs := make([]uint64, owners)
		var wg sync.WaitGroup
		for i := range owners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := stores[i%2].Claim(ctx, "m-1", "s", fmt.Sprint("owner-", i))
				if err != nil {
					t.Error(err)
				}
				epochs[i] = c.Epoch
			}()
		}
		wg.Wait()
		seen := map[uint64]bool{}
		var top uint64
		winner := -1
		for i, e := range epochs {
			if seen[e] {
				t.Fatalf("epoch %d handed out twice", e)
			}
			seen[e] = true
			if e > top {
				top, winner = e, i
			}
		}
		var mu sync.Mutex
		succeeded := []int{}
		for i := range owners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := stores[i%2].Put(ctx, "m-1", "s", checkpoint.Position{SequenceNumber: fmt.Sprint(i), Epoch: epochs[i]})
				if err == nil {
					mu.Lock()
					succeeded = append(succeeded, i)
					mu.Unlock()
				} else if !errors.Is(err, checkpoint.ErrFenced) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if len(succeeded) != 1 || succeeded[0] != winner {
			t.Fatalf("Puts succeeded for %v, want only the last claimant %d", succeeded, winner)
		}
	})

	t.Run("concurrent shards", func(t *testing.T) {
		s := mustOpen(t, location(t))
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				shard := fmt.Sprintf("shard-%02d", i)
				c, err := s.Claim(ctx, "m-1", shard, "a")
				if err == nil {
					err = s.Put(ctx, "m-1", shard, checkpoint.Position{SequenceNumber: fmt.Sprint(i + 1), Epoch: c.Epoch})
				}
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for i := range 20 {
			if got, _ := s.Get(ctx, "m-1", fmt.Sprintf("shard-%02d", i)); got.SequenceNumber != fmt.Sprint(i+1) {
				t.Errorf("shard %d: %+v", i, got)
			}
		}
	})
}
