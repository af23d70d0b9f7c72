package hostile

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/sluice-dev/sluice/internal/clock"
)

const (
	kinesisTarget  = "Kinesis_20131202."
	firehoseTarget = "Firehose_20150804."
	jsonType       = "application/x-amz-json-1.1"
	// promised is the Content-Length header-only clients claim: the API's
	// largest accepted body.
	promised = 11 << 20
)

// All returns every attack. Attacks that need the TLS listener are left out
// when the target has none.
func All(t *Target) []Attack {
	as := []Attack{
		{"header-only", headerOnly},
		{"slow-body", slowBody},
		{"idle-conns", idleConns},
		{"conn-flood", connFlood},
		{"bad-signature", badSignature},
		{"firehose-unsigned", firehoseUnsigned},
		{"replay", replayAsDelete},
		{"wrong-host", wrongHost},
		{"control-no-token", controlNoToken},
		{"huge-body", hugeBody},
		{"garbage", garbage},
	}
	if t.APITLS != "" && t.CAFile != "" {
		as = append(as, Attack{"h2-flood", h2Flood})
	}
	return as
}

// rawRequest writes head (and body, if any) on a fresh connection and
// reports how the server ended it: "status-NNN" for an answer, "closed" for
// a connection closed without one. Holding the request until ctx ends is
// an error: every listener has a read timeout.
func rawRequest(ctx context.Context, t *Target, head string, body func(w io.Writer) error) (string, error) {
	c, err := t.dial(ctx, t.API)
	if err != nil {
		return "", fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := io.WriteString(c, head); err != nil {
		return "closed", nil
	}
	answered := make(chan string, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answered <- "closed"
			return
		}
		resp.Body.Close()
		answered <- fmt.Sprintf("status-%d", resp.StatusCode)
	}()
	if body != nil {
		go body(c) // fails once the server closes the connection
	}
	select {
	case out := <-answered:
		if ctx.Err() != nil {
			return "", errors.New("server held the request until the attack's deadline (20 s): no read timeout?")
		}
		return out, nil
	case <-ctx.Done():
		return "", errors.New("server held the request until the attack's deadline (20 s): no read timeout?")
	}
}

func apiHead(host, target string, length int, extra string) string {
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n", host, target, jsonType, length, extra)
}

// headerOnly promises an 11 MiB body and sends none.
func headerOnly(ctx context.Context, t *Target, _ *rand.Rand) (string, error) {
	return rawRequest(ctx, t, apiHead(hostOf(t.API), kinesisTarget+"PutRecords", promised, ""), nil)
}

// slowBody trickles its body a byte every 300 ms.
func slowBody(ctx context.Context, t *Target, _ *rand.Rand) (string, error) {
	return rawRequest(ctx, t, apiHead(hostOf(t.API), kinesisTarget+"PutRecord", 4096, ""), func(w io.Writer) error {
		tick := clock.Or(t.Clock).NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for range tick.Chan() {
			if _, err := w.Write([]byte{'{'}); err != nil {
				return err
			}
		}
		return nil
	})
}

// idleConns opens connections, makes one request on each and leaves them
// idle: the server must close them (idle timeout) before ctx ends.
func idleConns(ctx context.Context, t *Target, rng *rand.Rand) (string, error) {
	n := 20 + rng.IntN(60)
	var wg sync.WaitGroup
	var mu sync.Mutex
	outcome := map[string]int{}
	var firstErr error
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := rawKeepAlive(ctx, t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			outcome[out]++
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return "", firstErr
	}
	if outcome["closed-idle"] > 0 {
		return "closed-idle", nil
	}
	return "refused", nil
}

func rawKeepAlive(ctx context.Context, t *Target) (string, error) {
	c, err := t.dial(ctx, t.API)
	if err != nil {
		return "refused", nil
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	body := `{"StreamName":"` + t.Stream + `"}`
	if _, err := io.WriteString(c, apiHead(hostOf(t.API), kinesisTarget+"DescribeStreamSummary", len(body), "")+body); err != nil {
		return "refused", nil
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "refused", nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		return "refused", nil
	}
	// Now idle: the next thing the server does must be closing.
	if _, err := br.ReadByte(); err == nil {
		return "", errors.New("server sent bytes on an idle keep-alive connection")
	}
	if ctx.Err() != nil {
		return "", errors.New("idle keep-alive connection still open at the attack's deadline (20 s): no idle timeout?")
	}
	return "closed-idle", nil
}

// connFlood opens hundreds of connections at once and holds them: past the
// per-client cap they are refused (a 503 and a close).
func connFlood(ctx context.Context, t *Target, rng *rand.Rand) (string, error) {
	n := 200 + rng.IntN(300)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := t.dial(ctx, t.API)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	// Give the server a moment to refuse the excess, then count closes.
	hold, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	closed := 0
	// A socket deadline is a wall-clock instant the network poller
	// enforces, so it is set from the wall clock, not t.Clock.
	deadline := time.Now().Add(time.Second)
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		if _, err := c.Read(make([]byte, 1)); err == nil || !isTimeout(err) {
			closed++
		}
	}
	<-hold.Done()
	if closed > 0 {
		return "refused-some", nil
	}
	return "held", nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sign signs r as a well-behaved SDK would, for the given host.
func sign(t *Target, r *http.Request, body []byte) error {
	sum := sha256.Sum256(body)
	r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
	return v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: t.AccessKey, SecretAccessKey: t.Secret},
		r, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", clock.Or(t.Clock).Now())
}

func apiRequest(ctx context.Context, endpoint, target string, body []byte) *http.Request {
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader(body))
	r.Header.Set("Content-Type", jsonType)
	r.Header.Set("X-Amz-Target", target)
	return r
}

// expectRefused sends r and requires a 4xx answer; a 2xx means the front
// door let a hostile request through.
func expectRefused(t *Target, r *http.Request, what string) (string, error) {
	resp, err := t.httpClient().Do(r)
	if err != nil {
		return "closed", nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 400 {
		return "", fmt.Errorf("%s was accepted (%d %s)", what, resp.StatusCode, msg)
	}
	if len(msg) > 4096 {
		return "", fmt.Errorf("%s: the error echoes %d bytes", what, len(msg))
	}
	return fmt.Sprintf("refused-%d", resp.StatusCode), nil
}

func putRecordBody(t *Target) []byte {
	return []byte(`{"StreamName":"` + t.Stream + `","PartitionKey":"hostile","Data":"aG9zdGlsZQ=="}`)
}

// badSignature writes with a garbage signature.
func badSignature(ctx context.Context, t *Target, rng *rand.Rand) (string, error) {
	body := putRecordBody(t)
	r := apiRequest(ctx, t.API, kinesisTarget+"PutRecord", body)
	if err := sign(t, r, body); err != nil {
		return "", err
	}
	auth := r.Header.Get("Authorization")
	i := strings.LastIndex(auth, "=")
	sig := []byte(auth[i+1:])
	sig[rng.IntN(len(sig))] ^= 1
	r.Header.Set("Authorization", auth[:i+1]+string(sig))
	return expectRefused(t, r, "PutRecord with a tampered signature")
}

// firehoseUnsigned writes to the Firehose API without a signature.
func firehoseUnsigned(ctx context.Context, t *Target, _ *rand.Rand) (string, error) {
	body := []byte(`{"DeliveryStreamName":"hostile","Record":{"Data":"aG9zdGlsZQ=="}}`)
	return expectRefused(t, apiRequest(ctx, t.API, firehoseTarget+"PutRecord", body), "unsigned Firehose PutRecord")
}

// replayAsDelete signs a DescribeStreamSummary and sends it as DeleteStream.
func replayAsDelete(ctx context.Context, t *Target, _ *rand.Rand) (string, error) {
	body := []byte(`{"StreamName":"` + t.Stream + `"}`)
	r := apiRequest(ctx, t.API, kinesisTarget+"DescribeStreamSummary", body)
	if err := sign(t, r, body); err != nil {
		return "", err
	}
	r.Header.Set("X-Amz-Target", kinesisTarget+"DeleteStream")
	return expectRefused(t, r, "a DescribeStreamSummary signature replayed as DeleteStream")
}

// wrongHost sends a properly signed DeleteStream under a DNS-rebinding
// Host name: only the Host check stands in its way.
func wrongHost(ctx context.Context, t *Target, _ *rand.Rand) (string, error) {
	body := []byte(`{"StreamName":"` + t.Stream + `"}`)
	r := apiRequest(ctx, t.API, kinesisTarget+"DeleteStream", body)
	r.Host = "rebind.attacker.example"
	if err := sign(t, r, body); err != nil {
		return "", err
	}
	return expectRefused(t, r, "DeleteStream under Host rebind.attacker.example")
}

// controlNoToken asks the control address for profiles and status without
// the token, under its own or a rebinding Host.
func controlNoToken(ctx context.Context, t *Target, rng *rand.Rand) (string, error) {
	path := []string{"/debug/pprof/", "/status", "/streams/" + t.Stream + "/hot"}[rng.IntN(3)]
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.Control+path, nil)
	if rng.IntN(2) == 0 {
		r.Host = "rebind.attacker.example"
	}
	return expectRefused(t, r, "GET "+path+" without the control token")
}

// hugeBody sends 12 MiB: over the API's limit.
func hugeBody(ctx context.Context, t *Target, _ *rand.Rand) (string, error) {
	body := bytes.Repeat([]byte{'x'}, 12<<20)
	return expectRefused(t, apiRequest(ctx, t.API, kinesisTarget+"PutRecords", body), "a 12 MiB body")
}

// garbage sends a mutated, correctly signed request to a stream that does
// not exist, so it reaches the parsers but can never write: the answer must
// be a 4xx, never a 5xx.
func garbage(ctx context.Context, t *Target, rng *rand.Rand) (string, error) {
	seeds := []string{
		`{"StreamName":"hostile-nowhere","Records":[{"PartitionKey":"k","Data":"aGk="}]}`,
		`{"StreamName":"hostile-nowhere","PartitionKey":"k","Data":"aGk=","ExplicitHashKey":"1"}`,
		`{"StreamName":"hostile-nowhere","ShardId":"shardId-000000000000","ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"1"}`,
		`{"ShardIterator":"AAAAAAAAAAAA","Limit":10000}`,
	}
	ops := []string{"PutRecords", "PutRecord", "GetShardIterator", "GetRecords", "DescribeStream", "ListShards"}
	body := []byte(seeds[rng.IntN(len(seeds))])
	for range 1 + rng.IntN(8) {
		switch i := rng.IntN(len(body)); rng.IntN(4) {
		case 0:
			body[i] = byte(rng.IntN(256))
		case 1:
			body = append(body[:i], body[i+1:]...)
		case 2:
			body = append(body[:i], append([]byte{specials[rng.IntN(len(specials))]}, body[i:]...)...)
		default:
			body = append(body[:i], append(bytes.Repeat(body[i:i+1], rng.IntN(2000)), body[i:]...)...)
		}
		if len(body) == 0 {
			body = []byte("{")
		}
	}
	r := apiRequest(ctx, t.API, kinesisTarget+ops[rng.IntN(len(ops))], body)
	if err := sign(t, r, body); err != nil {
		return "", err
	}
	resp, err := t.httpClient().Do(r)
	if err != nil {
		return "closed", nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		return "", fmt.Errorf("mutated request %q got %d %s", truncate(body, 200), resp.StatusCode, truncate(msg, 200))
	}
	return fmt.Sprintf("status-%d", resp.StatusCode), nil
}

// specials are the bytes most likely to confuse a JSON parser.
const specials = "{}[]\",:\\\x00\xff"

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// h2Flood opens 200 streams on HTTP/2 connections to the TLS listener,
// each promising 11 MiB and sending nothing, and holds them a few seconds.
func h2Flood(ctx context.Context, t *Target, _ *rand.Rand) (string, error) {
	client, err := t.tlsClient()
	if err != nil {
		return "", err
	}
	defer client.CloseIdleConnections()
	hold, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[int]int{}
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, pw := io.Pipe()
			defer pw.Close()
			r, _ := http.NewRequestWithContext(hold, http.MethodPost, t.APITLS+"/", pr)
			r.ContentLength = promised
			r.Header.Set("Content-Type", jsonType)
			r.Header.Set("X-Amz-Target", kinesisTarget+"PutRecords")
			resp, err := client.Do(r)
			if err != nil {
				return
			}
			resp.Body.Close()
			mu.Lock()
			answers[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	for code := range answers {
		if code < 400 {
			return "", fmt.Errorf("an empty 11 MiB-promising HTTP/2 stream got %d", code)
		}
	}
	return "held-3s", nil
}
