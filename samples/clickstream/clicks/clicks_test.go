package clicks

import (
	"encoding/json"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every reading, so timestamps are
// reproducible and increase like a steady producer's.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func TestDeterministicContentPerSeed(t *testing.T) {
	a := New(Options{Seed: 42, Now: fakeClock(10 * time.Millisecond)})
	b := New(Options{Seed: 42, Now: fakeClock(10 * time.Millisecond)})
	c := New(Options{Seed: 43, Now: fakeClock(10 * time.Millisecond)})
	differs := false
	for i := range 2000 {
		ea, eb, ec := a.Next(), b.Next(), c.Next()
		if ea.EventID == eb.EventID {
			t.Fatalf("event %d: same event_id %s from two generators", i, ea.EventID)
		}
		ea.EventID, eb.EventID, ec.EventID = "", "", ""
		if ea != eb {
			t.Fatalf("event %d differs with the same seed:\n%+v\n%+v", i, ea, eb)
		}
		if ea != ec {
			differs = true
		}
	}
	if !differs {
		t.Fatal("seeds 42 and 43 produced the same content")
	}
}

func TestUniqueIDsAcrossGeneratorsWithSameSeed(t *testing.T) {
	seen := make(map[string]bool)
	for range 2 {
		g := NewGenerator(7)
		for range 5000 {
			id := g.Next().EventID
			if seen[id] {
				t.Fatalf("duplicate event_id %s", id)
			}
			seen[id] = true
		}
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestJSONShape(t *testing.T) {
	g := NewGenerator(1)
	for range 500 {
		b, err := json.Marshal(g.Next())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		want := []string{"event_id", "user_id", "session_id", "page", "referrer", "event_type", "timestamp", "user_agent", "ip", "country"}
		if len(m) != len(want) {
			t.Fatalf("got %d fields, want %d: %s", len(m), len(want), b)
		}
		for _, k := range want {
			s, ok := m[k].(string)
			if !ok {
				t.Fatalf("field %s is %T, want string: %s", k, m[k], b)
			}
			if s == "" && k != "referrer" {
				t.Fatalf("field %s is empty: %s", k, b)
			}
		}
		if !uuidV4.MatchString(m["event_id"].(string)) {
			t.Errorf("event_id %q is not a UUIDv4", m["event_id"])
		}
		ts := m["timestamp"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") || len(ts) != len("2006-01-02T15:04:05.000Z") {
			t.Errorf("timestamp %q is not RFC 3339 UTC with milliseconds", ts)
		}
		if ip := net.ParseIP(m["ip"].(string)); ip == nil || ip.To4() == nil || ip.IsPrivate() || ip.IsLoopback() {
			t.Errorf("ip %q is not a public IPv4 address", m["ip"])
		}
		if p := m["page"].(string); !strings.HasPrefix(p, "/") {
			t.Errorf("page %q is not a path", p)
		}
	}
}

func TestDistributions(t *testing.T) {
	g := New(Options{Seed: 3, Now: fakeClock(time.Millisecond)})
	const n = 50_000
	types := map[string]int{}
	sessions := map[string]int{}
	agents := map[string]bool{}
	sessionOf := map[string]string{} // session → user agent, which must not change
	for range n {
		e := g.Next()
		types[e.EventType]++
		sessions[e.SessionID]++
		agents[e.UserAgent] = true
		if ua, ok := sessionOf[e.SessionID]; ok && ua != e.UserAgent {
			t.Fatalf("session %s changed user agent", e.SessionID)
		}
		sessionOf[e.SessionID] = e.UserAgent
	}
	share := func(k string) float64 { return float64(types[k]) / n }
	if share(PageView) < 0.4 || share(PageView) > 0.8 {
		t.Errorf("page_view share %.2f, want most events", share(PageView))
	}
	for _, k := range []string{Click, Search, AddToCart, Purchase} {
		if share(k) < 0.005 || share(k) > share(PageView) {
			t.Errorf("%s share %.3f out of range", k, share(k))
		}
	}
	if types[Purchase] >= types[AddToCart] {
		t.Errorf("purchases (%d) should be rarer than add_to_cart (%d)", types[Purchase], types[AddToCart])
	}
	if len(types) != 5 {
		t.Errorf("event types %v, want exactly 5", types)
	}
	if len(agents) < 10 {
		t.Errorf("only %d distinct user agents", len(agents))
	}
	perSession := float64(n) / float64(len(sessions))
	if perSession < 3 || perSession > 20 {
		t.Errorf("%.1f events per session, want several", perSession)
	}
}

func TestHotKeySkew(t *testing.T) {
	g := New(Options{Seed: 5, HotKeySkew: 0.5})
	counts := map[string]int{}
	for range 10_000 {
		counts[g.Next().SessionID]++
	}
	top := 0
	for _, c := range counts {
		top = max(top, c)
	}
	if top < 4000 {
		t.Errorf("hottest key got %d of 10000 events, want about half", top)
	}
}

func TestSpike(t *testing.T) {
	// One event per 10 ms: the spike window of 10 s holds 1000 events.
	g := New(Options{
		Seed: 9, Now: fakeClock(10 * time.Millisecond),
		Spike: Spike{Page: "/products/42", At: 20 * time.Second, Duration: 10 * time.Second, Factor: 10},
	})
	before, during := 0, 0
	for i := range 3000 {
		e := g.Next()
		if e.Page != "/products/42" {
			continue
		}
		switch {
		case i < 2000:
			before++
		case i < 3000:
			during++
		}
	}
	// 1000 events during versus 2000 before: Factor 10 means about 5x the
	// count of the baseline window.
	if during < 4*before || during < 50 {
		t.Errorf("spike page got %d events in the spike window versus %d in the twice-as-long baseline", during, before)
	}
}
