package firehose

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/handover/handovertest"
)

// TestHandoverConformance runs the hand-over contract's suite against a
// delivery stream, reopened from the same state directory for durability.
func TestHandoverConformance(t *testing.T) {
	handovertest.Run(t, func(t *testing.T) handovertest.Instance {
		dir, dst, clk := t.TempDir(), newMemDest(), newClock()
		cfg := Config{Name: "conf", Bucket: "b", AppendDelimiter: true}
		d := openTest(t, cfg, dir, dst, clk)
		t.Cleanup(func() { _ = d.Close(context.Background()) })
		return handovertest.Instance{Acceptor: d, Reopen: func(t *testing.T) handover.Acceptor {
			if err := d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			d = openTest(t, cfg, dir, dst, clk)
			return d
		}}
	})
}
