package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/harness"
	"github.com/sluice-dev/sluice/internal/sdkhttp"
)

// doorTemplate is the smallest app: one stream, no functions, so sluice is
// ready at once.
const doorTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Door:
    Type: AWS::Kinesis::Stream
    Properties:
      Name: door
      ShardCount: 1
`

// TestListenersRefuseHostileClients runs `sluice up` with small listener
// limits and shows each refusal as a client meets it, and that a normal
// client is served all along: connections past the per-client cap get a
// 503 and a close while another client puts and reads back every record;
// an idle keep-alive connection is closed; a trickled body is cut off; a
// rebinding Host is refused on the API (DeleteStream deletes nothing) and
// on the control address (/debug/pprof, even with the token); the TLS port
// caps HTTP/2 streams; a subscription outlives the write and read
// timeouts; and the TLS certificate is a leaf that survives a restart.
func TestListenersRefuseHostileClients(t *testing.T) {
	state := t.TempDir()
	tmpl := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(tmpl, []byte(doorTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	const perClient, h2Streams = 20, 7
	t.Setenv("SLUICE_MAX_HTTP2_STREAMS", fmt.Sprint(h2Streams))
	t.Setenv("SLUICE_WRITE_TIMEOUT", "2s")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := func() *harness.Sluice {
		t.Helper()
		s, err := harness.Start(ctx, sluiceBin, nil, "-t", tmpl, "--state-dir", state,
			"--kinesis-addr", "127.0.0.1:0", "--kinesis-tls-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0",
			"--max-conns-per-client", fmt.Sprint(perClient), "--read-timeout", "3s", "--idle-timeout", "2s")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("sluice log:\n%s", s.Log())
			}
		})
		return s
	}
	s := start()
	defer s.Kill()
	api := strings.TrimPrefix(s.Endpoints.Kinesis, "http://")

	t.Run("conns-per-client", func(t *testing.T) {
		// 20 silent connections from 127.0.0.1 fill its share (the
		// listener accepts in order, so the next ones are counted after).
		for range perClient {
			dialFrom(t, "127.0.0.1", api)
		}
		for range 5 {
			c := dialFrom(t, "127.0.0.1", api)
			resp, body := rawRequest(t, c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
			if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close || !strings.Contains(body, `"__type":"ServiceUnavailable"`) ||
				!strings.Contains(body, fmt.Sprintf("at most %d per client", perClient)) {
				t.Fatalf("connection %d from one client: %s %s", perClient+1, resp.Status, body)
			}
			expectClosed(t, c)
		}
		// Another client puts records and reads every one back meanwhile.
		other := clientFrom("127.0.0.2", s.Endpoints.Kinesis)
		var entries []types.PutRecordsRequestEntry
		for i := range 100 {
			entries = append(entries, types.PutRecordsRequestEntry{Data: fmt.Appendf(nil, "r%d", i), PartitionKey: aws.String("k")})
		}
		out, err := other.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("door"), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("another client's PutRecords: %v", err)
		}
		if n := countRecords(ctx, t, other, "door"); n != 100 {
			t.Fatalf("another client read back %d of 100 records", n)
		}
		if got := refusals(t, s.Endpoints.Control)["conns-per-client/kinesis"]; got != 5 {
			t.Errorf("/metrics counts %d conns-per-client refusals on kinesis, want 5", got)
		}
		if !strings.Contains(s.Log(), "cause=conns-per-client") {
			t.Error("the refusal was not logged")
		}
	})

	t.Run("idle-keep-alive-closed", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.3", api)
		body := `{"StreamName":"door"}`
		resp, _ := rawRequest(t, c, apiHead("127.0.0.1", "DescribeStreamSummary", len(body))+body)
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("DescribeStreamSummary: %s, close=%v", resp.Status, resp.Close)
		}
		expectClosed(t, c) // after --idle-timeout, with nothing sent
	})

	t.Run("trickled-body-cut-off", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.4", api)
		io.WriteString(c, apiHead("127.0.0.1", "PutRecord", 4096, "")) // 20 minutes at the pace below
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(300 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := c.Write([]byte{'{'}); err != nil {
					return
				}
			}
		}()
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			if isTimeout(err) {
				t.Fatal("the trickled body was still being read after 60 s: no read timeout")
			}
			t.Logf("the trickling client saw its connection closed: %v", err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		t.Logf("the trickling client got: %s %s", resp.Status, body)
		if resp.StatusCode < 400 {
			t.Fatalf("a trickled body was accepted: %s %s", resp.Status, body)
		}
	})

	t.Run("wrong-host", func(t *testing.T) {
		body := `{"StreamName":"door"}`
		c := dialFrom(t, "127.0.0.5", api)
		resp, msg := rawRequest(t, c, apiHead("attacker.example", "DeleteStream", len(body))+body)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(msg, `"__type":"AccessDeniedException"`) || !strings.Contains(msg, "--allowed-hosts attacker.example") {
			t.Fatalf("DeleteStream under Host attacker.example: %s %s", resp.Status, msg)
		}
		t.Logf("DeleteStream under Host attacker.example: %s %s", resp.Status, msg)
		sum, err := clientFrom("127.0.0.5", s.Endpoints.Kinesis).DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("door")})
		if err != nil || sum.StreamDescriptionSummary.StreamStatus != types.StreamStatusActive {
			t.Fatalf("the stream after a rebinding DeleteStream: %v", err)
		}

		token, err := app.ReadToken(state)
		if err != nil {
			t.Fatal(err)
		}
		pprof := func(host string) (*http.Response, string) {
			r, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoints.Control+"/debug/pprof/", nil)
			r.Host = host
			r.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, string(b)
		}
		// Even with the token: a rebinding page never has it, but the Host
		// check does not depend on that.
		if resp, msg := pprof("attacker.example"); resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(msg, `{"error":"sluice: this listener does not answer Host`) {
			t.Fatalf("/debug/pprof/ under Host attacker.example: %s %s", resp.Status, msg)
		} else {
			t.Logf("/debug/pprof/ under Host attacker.example: %s %s", resp.Status, msg)
		}
		if resp, _ := pprof(strings.TrimPrefix(s.Endpoints.Control, "http://")); resp.StatusCode != 200 {
			t.Fatalf("/debug/pprof/ under the bound address: %s", resp.Status)
		}
		if got := refusals(t, s.Endpoints.Control); got["host/kinesis"] < 1 || got["host/control"] < 1 {
			t.Errorf("host refusals counted: %v", got)
		}
	})

	pemCert, err := os.ReadFile(filepath.Join(state, app.TLSCertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemCert) {
		t.Fatal("kinesis-tls.pem holds no certificate")
	}

	t.Run("h2-streams-capped", func(t *testing.T) {
		c, br, settings := dialH2(t, strings.TrimPrefix(s.Endpoints.KinesisTLS, "https://"), roots)
		if got := settings[0x3]; got != h2Streams {
			t.Fatalf("the TLS port advertises SETTINGS_MAX_CONCURRENT_STREAMS=%d, want %d", got, h2Streams)
		}
		// A client ignoring it: streams that promise a body and send none
		// (each holds a handler until the read timeout).
		for i := range h2Streams + 5 {
			writeH2Frame(t, c, 0x1, 0x4, uint32(2*i+1), h2PostHeaders("127.0.0.1"))
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		reset := 0
		for reset < 5 {
			typ, stream, payload, err := readH2Frame(br)
			if err != nil {
				t.Fatalf("%d of 5 extra streams reset before: %v", reset, err)
			}
			if typ == 0x3 && stream > 2*h2Streams {
				reset++
			} else if typ == 0x3 || typ == 0x7 {
				t.Logf("frame %d on stream %d: %x", typ, stream, payload)
			}
		}
		t.Logf("%d streams opened on one connection with a cap of %d: the 5 extra ones were reset", h2Streams+5, h2Streams)
	})

	t.Run("subscription-outlives-timeouts", func(t *testing.T) {
		c := kinesis.New(clientFrom("127.0.0.6", s.Endpoints.Kinesis).Options(), func(o *kinesis.Options) {
			o.HTTPClient = sdkhttp.DetachedBody{Inner: sourceClient("127.0.0.6")}
		})
		reg, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
			StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/door"), ConsumerName: aws.String("patient")})
		if err != nil {
			t.Fatal(err)
		}
		waitConsumerActive(ctx, t, c, reg.Consumer.ConsumerARN)
		sub, err := c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
			StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
		if err != nil {
			t.Fatal(err)
		}
		stream := sub.GetStream()
		defer stream.Close()
		// The property is about time: outlast SLUICE_WRITE_TIMEOUT (2 s)
		// and --read-timeout (3 s).
		time.Sleep(4 * time.Second)
		if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("door"), PartitionKey: aws.String("k"), Data: []byte("late")}); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case ev, ok := <-stream.Events():
				if !ok {
					t.Fatalf("the subscription ended before the record put after the timeouts arrived: %v", stream.Err())
				}
				if e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent); ok {
					for _, r := range e.Value.Records {
						if string(r.Data) == "late" {
							return
						}
					}
				}
			case <-ctx.Done():
				t.Fatal("the record never arrived")
			}
		}
	})

	// The certificate: a leaf for the listener's names, its key private,
	// and the same after a restart, so clients keep trusting it.
	block, _ := pem.Decode(pemCert)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Errorf("kinesis-tls.pem is a CA (IsCA=%v, key usage %b): a client trusting it would accept any site its key signs for", cert.IsCA, cert.KeyUsage)
	}
	for _, name := range []string{"127.0.0.1", "localhost"} {
		if err := cert.VerifyHostname(name); err != nil {
			t.Errorf("the certificate does not cover %s: %v", name, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(state, app.TLSKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the TLS key file: %v, %v; want mode 600", fi, err)
	}
	if err := s.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	s = start()
	defer s.Kill()
	again, err := os.ReadFile(filepath.Join(state, app.TLSCertFile))
	if err != nil || !bytes.Equal(again, pemCert) {
		t.Fatalf("the certificate changed across a restart (%v)", err)
	}
	// A client that trusted the first run's file talks to the second run.
	tc := kinesis.New(kinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoints.KinesisTLS),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: roots}
			tr.ForceAttemptHTTP2 = true
		}),
	})
	if _, err := tc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("door")}); err != nil {
		t.Fatalf("a client trusting the first run's certificate, after a restart: %v", err)
	}
}

// dialFrom connects to addr from the loopback address src, which the
// per-client cap counts as a client of its own.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sourceClient is an SDK HTTP client whose connections come from src.
func sourceClient(src string) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	})
}

func clientFrom(src, endpoint string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		HTTPClient:  sourceClient(src),
	})
}

func apiHead(host, op string, length int, extra ...string) string {
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: Kinesis_20131202.%s\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n%s\r\n",
		host, op, length, strings.Join(extra, ""))
}

// rawRequest writes req on c and reads one answer.
func rawRequest(t *testing.T, c net.Conn, req string) (*http.Response, string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("writing a request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// expectClosed waits for the server to close c: a read returning EOF (or a
// reset), not a timeout.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("the server did not close the connection: read returned %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return err != nil && errors.As(err, &ne) && ne.Timeout()
}

// countRecords reads stream's only shard from the start to its end.
func countRecords(ctx context.Context, t *testing.T, c *kinesis.Client, stream string) int {
	t.Helper()
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for iter := it.ShardIterator; iter != nil; {
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Records)
		if aws.ToInt64(out.MillisBehindLatest) == 0 && len(out.Records) == 0 {
			break
		}
		iter = out.NextShardIterator
	}
	return n
}

var refusalMetric = regexp.MustCompile(`(?m)^sluice_frontdoor_refusals_total\{cause="([^"]+)",listener="([^"]+)"\} (\d+)`)

// refusals reads sluice_frontdoor_refusals_total by "cause/listener".
func refusals(t *testing.T, control string) map[string]int {
	t.Helper()
	resp, err := http.Get(control + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	got := map[string]int{}
	for _, m := range refusalMetric.FindAllStringSubmatch(string(body), -1) {
		var n int
		fmt.Sscan(m[3], &n)
		got[m[1]+"/"+m[2]] += n
	}
	return got
}

// dialH2 opens an HTTP/2 connection over TLS, trusting roots, and returns
// it with the server's SETTINGS (acknowledged).
func dialH2(t *testing.T, addr string, roots *x509.CertPool) (*tls.Conn, *bufio.Reader, map[uint16]uint32) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.7")}}, "tcp", addr,
		&tls.Config{RootCAs: roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatalf("TLS to %s trusting kinesis-tls.pem: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	writeH2Frame(t, c, 0x4, 0, 0, nil)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for {
		typ, _, payload, err := readH2Frame(br)
		if err != nil {
			t.Fatalf("reading the server's SETTINGS: %v", err)
		}
		if typ != 0x4 || len(payload) == 0 {
			continue
		}
		settings := map[uint16]uint32{}
		for p := payload; len(p) >= 6; p = p[6:] {
			settings[binary.BigEndian.Uint16(p)] = binary.BigEndian.Uint32(p[2:])
		}
		writeH2Frame(t, c, 0x4, 0x1, 0, nil)
		return c, br, settings
	}
}

func writeH2Frame(t *testing.T, c net.Conn, typ, flags byte, stream uint32, payload []byte) {
	t.Helper()
	f := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(f[5:], stream)
	if _, err := c.Write(append(f, payload...)); err != nil {
		t.Fatalf("writing an HTTP/2 frame: %v", err)
	}
}

func readH2Frame(br *bufio.Reader) (typ byte, stream uint32, payload []byte, err error) {
	var h [9]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, 0, nil, err
	}
	payload = make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))
	_, err = io.ReadFull(br, payload)
	return h[3], binary.BigEndian.Uint32(h[5:]) & 0x7fffffff, payload, err
}

// h2PostHeaders is an HPACK block (static-table entries and literals) for
// a PutRecords POST that promises a body.
func h2PostHeaders(authority string) []byte {
	b := []byte{0x83, 0x87, 0x84} // :method POST, :scheme https, :path /
	lit := func(name, value string) {
		b = append(b, 0x00, byte(len(name)))
		b = append(b, name...)
		b = append(b, byte(len(value)))
		b = append(b, value...)
	}
	b = append(b, 0x01, byte(len(authority)))
	b = append(b, authority...)
	lit("x-amz-target", "Kinesis_20131202.PutRecords")
	lit("content-type", "application/x-amz-json-1.1")
	lit("content-length", "1000")
	return b
}
