package firehose

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSmallFileAlarm(t *testing.T) {
	clk := newClock()
	d := openTest(t, testConfig(), t.TempDir(), newMemDest(), clk)
	defer d.Close(context.Background())
	flushAfter := func(data string) {
		t.Helper()
		mustAccept(t, d, batch("s", "", rec(data, clk.Now())))
		clk.Advance(301 * time.Second)
		if err := d.FlushDue(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range smallFileStreak {
		if got := metricValue(d.m.smallFileAlarm); got != 0 {
			t.Fatalf("alarm after %d small objects", i)
		}
		flushAfter(`{"tiny":true}`)
	}
	if got := metricValue(d.m.smallFileAlarm); got != 1 {
		t.Fatalf("alarm = %v after %d small interval flushes, want 1", got, smallFileStreak)
	}
	// A well-filled object clears it.
	flushAfter(`"` + strings.Repeat("x", int(testConfig().BufferSize/5)) + `"`)
	if got := metricValue(d.m.smallFileAlarm); got != 0 {
		t.Fatalf("alarm = %v after a large object, want 0", got)
	}
	// Manual and shutdown flushes say nothing about traffic.
	for range smallFileStreak + 1 {
		mustAccept(t, d, batch("s", "", rec(`{}`, clk.Now())))
		if err := d.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if got := metricValue(d.m.smallFileAlarm); got != 0 {
		t.Fatalf("alarm = %v after manual flushes", got)
	}
}

func TestLogGrowthCap(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	m.failBefore = func(string) bool { return true } // the destination is down
	cfg := testConfig()
	cfg.BufferSize = MiB
	d := openTest(t, cfg, t.TempDir(), m, clk, func(o *Options) {
		o.SegmentSize = 256 << 10
		o.MaxLogBytes = 1 << 20
	})
	rec10k := `"` + strings.Repeat("r", 10<<10) + `"`
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		full = d.Accept(context.Background(), batch("s", "", rec(rec10k, clk.Now())))
	}
	if !errors.Is(full, ErrLogFull) {
		t.Fatalf("the log never filled: %v", full)
	}
	m.mu.Lock()
	m.failBefore = nil // the destination is back
	m.mu.Unlock()
	if err := d.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Accept(context.Background(), batch("s", "", rec(rec10k, clk.Now()))); err != nil {
		t.Fatalf("accept after the backlog was delivered: %v", err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
