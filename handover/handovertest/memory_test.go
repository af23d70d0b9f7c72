package handovertest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/handover/handovertest"
)

func TestMemoryConforms(t *testing.T) {
	handovertest.Run(t, func(t *testing.T) handovertest.Instance {
		return handovertest.Instance{Acceptor: &handovertest.Memory{}}
	})
}

func TestMemoryRefusalTakesNothing(t *testing.T) {
	m := &handovertest.Memory{Fail: func(handover.Batch) error { return handovertest.ErrRefused }}
	err := m.Accept(context.Background(), handover.Batch{Source: handover.Source{ID: "s", Checkpoint: "1"}, Records: []handover.Record{{Data: []byte("x")}}})
	if !errors.Is(err, handovertest.ErrRefused) {
		t.Fatalf("Accept = %v, want ErrRefused", err)
	}
	if cp := m.Checkpoint("s"); cp != "" || len(m.Batches()) != 0 {
		t.Fatalf("a refused batch left checkpoint %q and %d batches", cp, len(m.Batches()))
	}
}
