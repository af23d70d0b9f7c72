// Package handovertest is the conformance suite every handover.Acceptor
// passes, and Memory, an in-memory Acceptor for tests of triggers that must
// not depend on a concrete delivery stream.
//
// An Acceptor's own test calls Run with an opener; reopen, when the acceptor
// is durable, closes the instance and opens the same state again:
//
//	func TestHandoverConformance(t *testing.T) {
//		handovertest.Run(t, func(t *testing.T) handovertest.Instance {
//			return handovertest.Instance{Acceptor: open(t, dir), Reopen: ...}
//		})
//	}
package handovertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/handover"
)

// Instance is one acceptor under test.
type Instance struct {
	Acceptor handover.Acceptor
	// Reopen closes Acceptor and opens the same state again; nil for an
	// acceptor that keeps nothing across a restart (then the durability
	// cases are skipped with a log line saying so, not silently).
	Reopen func(t *testing.T) handover.Acceptor
}

// Run runs the suite; open returns a fresh, empty acceptor for each subtest.
func Run(t *testing.T, open func(t *testing.T) Instance) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, in Instance)
	}{
		{"NoCheckpointBeforeAccept", testEmpty},
		{"CheckpointFollowsAcceptedBatches", testFollows},
		{"EmptyCheckpointLeavesItWhereItIs", testEmptyCheckpoint},
		{"SourcesAreIndependent", testIndependent},
		{"EmptyBatchMovesTheCheckpoint", testEmptyBatch},
		{"ConcurrentSources", testConcurrent},
		{"CheckpointSurvivesReopen", testReopen},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func batch(id, cp string, data ...string) handover.Batch {
	b := handover.Batch{Source: handover.Source{ID: id, Checkpoint: cp}}
	for _, d := range data {
		b.Records = append(b.Records, handover.Record{Data: []byte(d), ArrivalTime: time.Unix(1700000000, 0).UTC()})
	}
	return b
}

func accept(t *testing.T, a handover.Acceptor, b handover.Batch) {
	t.Helper()
	if err := a.Accept(context.Background(), b); err != nil {
		t.Fatalf("Accept(source %q, checkpoint %q): %v", b.Source.ID, b.Source.Checkpoint, err)
	}
}

func wantCheckpoint(t *testing.T, a handover.Acceptor, id, want string) {
	t.Helper()
	if got := a.Checkpoint(id); got != want {
		t.Fatalf("Checkpoint(%q) = %q, want %q", id, got, want)
	}
}

func testEmpty(t *testing.T, in Instance) {
	wantCheckpoint(t, in.Acceptor, "m/shardId-000000000000", "")
}

func testFollows(t *testing.T, in Instance) {
	id := "m/shardId-000000000000"
	accept(t, in.Acceptor, batch(id, "49590000000000000001", `{"n":1}`))
	wantCheckpoint(t, in.Acceptor, id, "49590000000000000001")
	accept(t, in.Acceptor, batch(id, "49590000000000000002", `{"n":2}`, `{"n":3}`))
	wantCheckpoint(t, in.Acceptor, id, "49590000000000000002")
}

func testEmptyCheckpoint(t *testing.T, in Instance) {
	id := "m/shardId-000000000000"
	accept(t, in.Acceptor, batch(id, "7", `{"n":1}`))
	accept(t, in.Acceptor, batch(id, "", `{"n":2}`))
	wantCheckpoint(t, in.Acceptor, id, "7")
}

func testIndependent(t *testing.T, in Instance) {
	accept(t, in.Acceptor, batch("m/shardId-000000000000", "10", `{"a":1}`))
	accept(t, in.Acceptor, batch("m/shardId-000000000001", "20", `{"b":1}`))
	wantCheckpoint(t, in.Acceptor, "m/shardId-000000000000", "10")
	wantCheckpoint(t, in.Acceptor, "m/shardId-000000000001", "20")
	wantCheckpoint(t, in.Acceptor, "other/shardId-000000000000", "")
}

// An invocation whose records were all filtered out still completes its
// source position.
func testEmptyBatch(t *testing.T, in Instance) {
	id := "m/shardId-000000000000"
	accept(t, in.Acceptor, batch(id, "3"))
	wantCheckpoint(t, in.Acceptor, id, "3")
}

func testConcurrent(t *testing.T, in Instance) {
	const sources, batches = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, sources)
	for s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("m/shardId-%012d", s)
			for n := 1; n <= batches; n++ {
				if err := in.Acceptor.Accept(context.Background(), batch(id, fmt.Sprint(n), fmt.Sprintf(`{"s":%d,"n":%d}`, s, n))); err != nil {
					errs <- fmt.Errorf("source %s batch %d: %w", id, n, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for s := range sources {
		wantCheckpoint(t, in.Acceptor, fmt.Sprintf("m/shardId-%012d", s), fmt.Sprint(batches))
	}
}

func testReopen(t *testing.T, in Instance) {
	if in.Reopen == nil {
		t.Log("acceptor keeps nothing across a restart; durability case not applicable")
		return
	}
	id := "m/shardId-000000000000"
	accept(t, in.Acceptor, batch(id, "42", `{"n":1}`))
	wantCheckpoint(t, in.Reopen(t), id, "42")
}

// Memory is an in-memory Acceptor: it keeps every accepted batch (copied)
// and the checkpoints. Fail, when set, is returned by Accept instead of
// taking the batch, to test a trigger's retry of a refused hand-over.
type Memory struct {
	mu          sync.Mutex
	batches     []handover.Batch
	checkpoints map[string]string
	// Fail is consulted before each Accept; a non-nil result refuses it.
	Fail func(handover.Batch) error
}

// ErrRefused is a convenient error for Memory.Fail.
var ErrRefused = errors.New("handovertest: batch refused")

// Accept implements handover.Acceptor.
func (m *Memory) Accept(ctx context.Context, b handover.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail != nil {
		if err := m.Fail(b); err != nil {
			return err
		}
	}
	cp := handover.Batch{Source: b.Source, Records: make([]handover.Record, len(b.Records))}
	for i, r := range b.Records {
		r.Data = slices.Clone(r.Data)
		cp.Records[i] = r
	}
	m.batches = append(m.batches, cp)
	if b.Source.Checkpoint != "" {
		if m.checkpoints == nil {
			m.checkpoints = map[string]string{}
		}
		m.checkpoints[b.Source.ID] = b.Source.Checkpoint
	}
	return nil
}

// Checkpoint implements handover.Acceptor.
func (m *Memory) Checkpoint(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.checkpoints[id]
}

// Batches returns a copy of the accepted batches, in order.
func (m *Memory) Batches() []handover.Batch {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.batches)
}

// Data returns every accepted record's payload, in order.
func (m *Memory) Data() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, b := range m.batches {
		for _, r := range b.Records {
			out = append(out, string(r.Data))
		}
	}
	return out
}
