// Package hostile is a generator of hostile clients, for soaking a running
// `sluice up` beside its normal producers: bodies trickled a byte at a time,
// headers promising 11 MiB that never come, floods of idle connections and
// of HTTP/2 streams, forged and replayed signatures, DNS-rebinding Host
// headers, bodies over the size limit and mutated requests. Each attack
// checks that it was refused the way the front door promises (an AWS-shaped
// error, a 503, a closed connection) and records what it saw; the soak test
// asserts that the pipeline kept delivering every acknowledged record and
// that the process's memory stayed bounded meanwhile.
package hostile

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// Target is the instance under attack.
type Target struct {
	// API is the Kinesis/Firehose endpoint (http://host:port).
	API string
	// APITLS and CAFile, when set, add the HTTP/2 stream flood against the
	// TLS listener (trusting the certificate in CAFile).
	APITLS, CAFile string
	// Control is the control address (http://host:port).
	Control string
	// Stream is a stream that must survive the attack (wrong-Host and
	// replayed DeleteStream calls name it).
	Stream string
	// AccessKey and Secret sign the requests that are meant to be
	// well-signed before being tampered with (the instance runs with
	// --verify-sigv4 AccessKey:Secret).
	AccessKey, Secret string
	// SourceIP, when set, is the local address attackers dial from (e.g.
	// 127.0.0.66), so per-client caps fall on them and not on the normal
	// producers on 127.0.0.1.
	SourceIP string
	// Clock paces the slow attacks and dates signatures; nil is the wall
	// clock.
	Clock clock.Clock

	once   sync.Once
	client *http.Client
}

func (t *Target) dialer() *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if t.SourceIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(t.SourceIP)}
	}
	return d
}

// httpClient is an HTTP/1.1 client dialing from SourceIP, without
// keep-alives (each attack makes its own connections).
func (t *Target) httpClient() *http.Client {
	t.once.Do(func() {
		t.client = &http.Client{Transport: &http.Transport{DialContext: t.dialer().DialContext, DisableKeepAlives: true}}
	})
	return t.client
}

// Attack is one kind of hostile client.
type Attack struct {
	Name string
	// Run makes one attempt and returns the outcome to tally ("refused-400",
	// "closed", ...) or an error if the server answered in a way the front
	// door does not allow (a write accepted, a 5xx to a malformed request,
	// the process gone).
	Run func(ctx context.Context, t *Target, rng *rand.Rand) (string, error)
}

// Stats tallies outcomes per attack.
type Stats struct {
	mu       sync.Mutex
	Outcomes map[string]map[string]int // attack → outcome → count
	Failures []string                  // first failures, for the test log
}

func (s *Stats) add(attack, outcome string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Outcomes == nil {
		s.Outcomes = map[string]map[string]int{}
	}
	if s.Outcomes[attack] == nil {
		s.Outcomes[attack] = map[string]int{}
	}
	if err != nil {
		s.Outcomes[attack]["FAILED"]++
		if len(s.Failures) < 20 {
			s.Failures = append(s.Failures, attack+": "+err.Error())
		}
		return
	}
	s.Outcomes[attack][outcome]++
}

// String renders the tally, one attack per line.
func (s *Stats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	names := make([]string, 0, len(s.Outcomes))
	for n := range s.Outcomes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "%-18s ", n)
		outs := make([]string, 0)
		for o, c := range s.Outcomes[n] {
			outs = append(outs, fmt.Sprintf("%s=%d", o, c))
		}
		sort.Strings(outs)
		b.WriteString(strings.Join(outs, " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// Run runs workers goroutines, each picking attacks at random, until ctx
// ends. It returns the tally.
func Run(ctx context.Context, t *Target, workers int, attacks []Attack) *Stats {
	st := &Stats{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), rand.Uint64()))
			for ctx.Err() == nil {
				a := attacks[rng.IntN(len(attacks))]
				actx, cancel := context.WithTimeout(ctx, 20*time.Second)
				out, err := a.Run(actx, t, rng)
				cancel()
				if ctx.Err() != nil && err != nil {
					return // cut short by the end of the soak, not refused
				}
				st.add(a.Name, out, err)
			}
		}()
	}
	wg.Wait()
	return st
}

// dial opens a raw connection to an http:// endpoint.
func (t *Target) dial(ctx context.Context, endpoint string) (net.Conn, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	return t.dialer().DialContext(ctx, "tcp", u.Host)
}

func hostOf(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	return u.Host
}

// tlsClient is an HTTP/2 client trusting the instance's certificate.
func (t *Target) tlsClient() (*http.Client, error) {
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", t.CAFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, DialContext: t.dialer().DialContext}
	return &http.Client{Transport: tr}, nil
}
