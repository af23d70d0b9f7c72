// Package clicks generates realistic web clickstream events: the sample data
// that Sluice's examples, tests and benchmarks write to the clickstream
// stream.
//
// A Generator simulates a pool of concurrent browsing sessions. Each session
// belongs to a user, keeps one user agent, IP address and country, and walks
// the site (landing page, product pages, searches, cart, checkout), so
// consecutive events of a session share a session_id, the partition key.
//
// Content is reproducible: two generators with the same Options (seed and
// clock) produce the same events, except event_id, which is a random UUIDv4
// from crypto/rand so that ids never collide across runs or seeds — tests
// count delivered records by event_id.
package clicks

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// Event is one click event as it is written to the stream, JSON-encoded.
type Event struct {
	EventID   string `json:"event_id"`
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
	Page      string `json:"page"`
	Referrer  string `json:"referrer"`
	EventType string `json:"event_type"`
	Timestamp string `json:"timestamp"`
	UserAgent string `json:"user_agent"`
	IP        string `json:"ip"`
	Country   string `json:"country"`
}

// Event types, as they appear in Event.EventType.
const (
	PageView  = "page_view"
	Click     = "click"
	AddToCart = "add_to_cart"
	Purchase  = "purchase"
	Search    = "search"
)

// TimestampLayout is the layout of Event.Timestamp: RFC 3339 in UTC with
// milliseconds, e.g. 2026-01-02T03:04:05.678Z.
const TimestampLayout = "2006-01-02T15:04:05.000Z07:00"

// SiteURL is the origin of the simulated shop; internal referrers start
// with it.
const SiteURL = "https://shop.example.com"

// Options configure a Generator. The zero value (apart from Seed) is a
// sensible default.
type Options struct {
	// Seed makes the content reproducible.
	Seed int64
	// Clock stamps events; nil is the wall clock. Tests pass a clock.Fake
	// to get fully reproducible timestamps.
	Clock clock.Clock
	// Now, when set, stamps events instead of Clock.Now.
	Now func() time.Time
	// ActiveSessions is how many sessions are interleaved at any moment
	// (default 64). More sessions spread events over more partition keys.
	ActiveSessions int
	// HotKeySkew in [0,1) is the fraction of events sent by one never-ending
	// crawler session, so that one partition key (and its shard) runs hot.
	HotKeySkew float64
	// Spike injects a traffic spike on one page; see Spike.
	Spike Spike
}

// Spike raises the traffic of one page for a while: from At after the first
// event, for Duration, the page's share of all events is Factor times its
// share before the spike (at least 1% is assumed, so a page that had no
// traffic still spikes visibly). At a fixed producer rate that is Factor
// times the page's events per second.
type Spike struct {
	Page     string
	At       time.Duration
	Duration time.Duration // default one minute
	Factor   float64       // must be > 1 to have an effect
}

// Generator produces click events. It is not safe for concurrent use.
type Generator struct {
	rng      *mrand.Rand
	now      func() time.Time
	sessions []*session
	hot      *session
	skew     float64
	users    *mrand.Zipf
	products *mrand.Zipf

	spike      Spike
	started    bool
	start      time.Time
	seen       int // events before the spike, to measure the page's share
	seenOnPage int
	spikeProb  float64 // chance that an event during the spike is a spike event; <0 until measured
}

type session struct {
	id, user, ua, ip, country string
	bot                       bool
	remaining                 int
	lastPage                  string // "" before the first event
	cart                      int
}

// NewGenerator returns a generator with default options and the given seed.
func NewGenerator(seed int64) *Generator {
	return New(Options{Seed: seed})
}

// New returns a generator configured by opts.
func New(opts Options) *Generator {
	// PCG's second word is a fixed stream selector: only the seed varies.
	rng := mrand.New(mrand.NewPCG(uint64(opts.Seed), 0x636c69636b73))
	g := &Generator{
		rng:       rng,
		now:       opts.Now,
		skew:      opts.HotKeySkew,
		spike:     opts.Spike,
		spikeProb: -1,
		// Zipf-distributed ids: a few returning users and best-selling
		// products account for much of the traffic, as on a real shop.
		users:    mrand.NewZipf(rng, 1.1, 100, 199_999),
		products: mrand.NewZipf(rng, 1.2, 5, 4_999),
	}
	if g.now == nil {
		g.now = clock.Or(opts.Clock).Now
	}
	if g.spike.Duration <= 0 {
		g.spike.Duration = time.Minute
	}
	n := opts.ActiveSessions
	if n <= 0 {
		n = 64
	}
	g.sessions = make([]*session, n)
	for i := range g.sessions {
		g.sessions[i] = g.newSession()
	}
	if g.skew > 0 {
		g.hot = g.newBotSession()
		g.hot.remaining = -1 // never ends
	}
	return g
}

// Next returns the next event.
func (g *Generator) Next() Event {
	t := g.now().UTC()
	if !g.started {
		g.started, g.start = true, t
	}

	var ev Event
	switch {
	case g.spikeActive(t) && g.rng.Float64() < g.spikeProb:
		ev = g.spikeEvent()
	case g.hot != nil && g.rng.Float64() < g.skew:
		ev = g.step(g.hot)
	default:
		i := g.rng.IntN(len(g.sessions))
		s := g.sessions[i]
		ev = g.step(s)
		if s.remaining == 0 {
			g.sessions[i] = g.newSession()
		}
	}

	if g.spike.Page != "" && t.Sub(g.start) < g.spike.At {
		g.seen++
		if ev.Page == g.spike.Page {
			g.seenOnPage++
		}
	}
	ev.EventID = newUUID()
	ev.Timestamp = t.Format(TimestampLayout)
	return ev
}

// spikeActive reports whether t falls into the spike window, and measures
// the page's baseline share when the window opens.
func (g *Generator) spikeActive(t time.Time) bool {
	if g.spike.Page == "" || g.spike.Factor <= 1 {
		return false
	}
	since := t.Sub(g.start)
	if since < g.spike.At || since >= g.spike.At+g.spike.Duration {
		return false
	}
	if g.spikeProb < 0 {
		p := 0.01
		if g.seen > 0 && float64(g.seenOnPage)/float64(g.seen) > p {
			p = float64(g.seenOnPage) / float64(g.seen)
		}
		// With a spike event drawn with probability s and ordinary traffic
		// otherwise, the page's share is s + (1-s)p; solving for Factor·p.
		s := (g.spike.Factor - 1) * p / (1 - p)
		g.spikeProb = min(s, 0.95)
	}
	return true
}

// spikeEvent is a visit to the spike page from a link shared elsewhere, by
// one of the active sessions.
func (g *Generator) spikeEvent() Event {
	s := g.sessions[g.rng.IntN(len(g.sessions))]
	ev := g.base(s, PageView, g.spike.Page)
	ev.Referrer = pick(g.rng, []weighted[string]{{"https://t.co/", 5}, {"https://www.reddit.com/", 3}, {"https://news.ycombinator.com/", 2}})
	s.lastPage = g.spike.Page
	return ev
}

func (g *Generator) base(s *session, eventType, page string) Event {
	return Event{
		UserID:    s.user,
		SessionID: s.id,
		Page:      page,
		EventType: eventType,
		UserAgent: s.ua,
		IP:        s.ip,
		Country:   s.country,
	}
}

// step advances session s by one event.
func (g *Generator) step(s *session) Event {
	first := s.lastPage == ""
	var eventType, page string
	switch {
	case s.bot:
		// Crawlers only fetch pages, and follow links to products and
		// categories.
		eventType = PageView
		page = g.browsePage(s)
	case first:
		eventType = PageView
		page = pick(g.rng, []weighted[string]{{"/", 40}, {g.productPage(), 35}, {g.categoryPage(), 15}, {g.blogPage(), 10}})
	default:
		eventType = pick(g.rng, eventTypes)
		switch eventType {
		case PageView:
			page = g.browsePage(s)
		case Click:
			page = g.productPage()
		case Search:
			page = "/search?q=" + url.QueryEscape(pick(g.rng, searchTerms))
		case AddToCart:
			page = s.lastPage
			if !isProductPage(page) {
				page = g.productPage()
			}
			s.cart++
		case Purchase:
			if s.cart == 0 {
				// Nothing to buy yet: the visitor looks at the cart instead.
				eventType, page = PageView, "/cart"
			} else {
				page = "/checkout/complete"
				s.cart = 0
			}
		}
	}

	ev := g.base(s, eventType, page)
	if first {
		ev.Referrer = pick(g.rng, externalReferrers)
	} else {
		ev.Referrer = SiteURL + s.lastPage
	}
	s.lastPage = page
	if s.remaining > 0 {
		s.remaining--
	}
	return ev
}

func (g *Generator) browsePage(s *session) string {
	choices := []weighted[string]{{g.productPage(), 45}, {g.categoryPage(), 25}, {"/", 10}, {g.blogPage(), 5}, {"/deals", 5}}
	if s.cart > 0 && !s.bot {
		choices = append(choices, weighted[string]{"/cart", 20}, weighted[string]{"/checkout", 10})
	}
	return pick(g.rng, choices)
}

func (g *Generator) productPage() string {
	return "/products/" + strconv.FormatUint(g.products.Uint64()+1, 10)
}

func (g *Generator) categoryPage() string {
	return "/category/" + pick(g.rng, categories)
}

func (g *Generator) blogPage() string {
	return "/blog/" + pick(g.rng, blogPosts)
}

func isProductPage(p string) bool {
	return len(p) > len("/products/") && p[:len("/products/")] == "/products/"
}

func (g *Generator) newSession() *session {
	a := pick(g.rng, userAgents)
	if a.bot {
		return g.newBotSession()
	}
	return &session{
		id:      g.sessionID(),
		user:    fmt.Sprintf("u-%06d", g.users.Uint64()+1),
		ua:      a.ua,
		ip:      g.publicIP(),
		country: pick(g.rng, countries),
		// Session length: one landing page plus an exponential tail with a
		// mean of about six more events, capped like a session timeout.
		remaining: 1 + min(int(g.rng.ExpFloat64()*6), 40),
	}
}

func (g *Generator) newBotSession() *session {
	b := bots[g.rng.IntN(len(bots))]
	return &session{
		id:        g.sessionID(),
		user:      "u-anonymous",
		ua:        b.ua,
		ip:        fmt.Sprintf("%s.%d.%d", b.net, g.rng.IntN(256), 1+g.rng.IntN(254)),
		country:   "US",
		bot:       true,
		remaining: 20 + g.rng.IntN(60),
	}
}

func (g *Generator) sessionID() string {
	var b [8]byte
	v := g.rng.Uint64()
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return "s-" + hex.EncodeToString(b[:])
}

// publicIP draws an address from blocks that are allocated to ISPs (no
// private, loopback, multicast or documentation ranges), so IP-based
// enrichment sees plausible values.
func (g *Generator) publicIP() string {
	first := publicFirstOctets[g.rng.IntN(len(publicFirstOctets))]
	return fmt.Sprintf("%d.%d.%d.%d", first, g.rng.IntN(256), g.rng.IntN(256), 1+g.rng.IntN(254))
}

// newUUID returns a random (version 4) UUID. It deliberately does not use
// the seeded source: ids must be unique across runs that share a seed.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

type weighted[T any] struct {
	v T
	w int
}

func pick[T any](rng *mrand.Rand, choices []weighted[T]) T {
	total := 0
	for _, c := range choices {
		total += c.w
	}
	n := rng.IntN(total)
	for _, c := range choices {
		if n < c.w {
			return c.v
		}
		n -= c.w
	}
	panic("unreachable")
}
