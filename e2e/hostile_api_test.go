package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	fh "github.com/aws/aws-sdk-go-v2/service/firehose"
	fhtypes "github.com/aws/aws-sdk-go-v2/service/firehose/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/internal/harness"
)

// TestHostileAPIClients runs `sluice up --verify-sigv4` and, on its API
// port: 150 connections that announce an 11 MiB body and send none must
// not grow the process by the announced 1.6 GiB, a signed producer's
// acknowledged records are all read back meanwhile, and Firehose puts
// unsigned or wrongly signed are refused with the SDK's errors and never
// written (issue 13).
func TestHostileAPIClients(t *testing.T) {
	const ak, sk = "AKHOSTILE", "hostile-secret"
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := harness.Start(ctx, sluiceBin, nil,
		"-t", filepath.Join(repoRoot, "e2e", "testdata", "hostile_api.yaml"),
		"--state-dir", state,
		"--kinesis-addr", "127.0.0.1:0",
		"--control-addr", "127.0.0.1:0",
		"--verify-sigv4", ak+":"+sk,
	)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice log:\n%s", s.Log())
		}
	})
	ep := s.Endpoints.Kinesis
	addr := strings.TrimPrefix(ep, "http://")
	rss0 := procStatusKB(t, s.PID(), "VmRSS")

	// Each attacker sends an unsigned request, then the headers of a
	// maximal PutRecords; the answer to the first shows the server is
	// reading the connection.
	var attackers []net.Conn
	defer func() {
		for _, c := range attackers {
			c.Close()
		}
	}()
	for range 150 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		attackers = append(attackers, c)
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\n\r\n{}"+
			"POST / HTTP/1.1\r\nHost: %[1]s\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n", addr, 11<<20)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("an attacker's first answer: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("an unsigned request: %s, want 400", resp.Status)
		}
	}

	creds := credentials.NewStaticCredentialsProvider(ak, sk, "")
	kc := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep), Credentials: creds})
	acked := map[string]bool{}
	for batch := range 6 {
		recs := make([]types.PutRecordsRequestEntry, 500)
		for k := range recs {
			recs[k] = types.PutRecordsRequestEntry{PartitionKey: aws.String(strconv.Itoa(k)), Data: fmt.Appendf(nil, "order-%d-%d", batch, k)}
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("orders"), Records: recs})
		if err != nil {
			t.Fatalf("a signed producer under attack: %v", err)
		}
		for k, r := range out.Records {
			if r.ErrorCode == nil {
				acked[string(recs[k].Data)] = true
			}
		}
	}
	rss1 := procStatusKB(t, s.PID(), "VmRSS")
	t.Logf("sluice VmRSS %d kB → %d kB (%+d MiB) with 150 header-only 11 MiB requests open and 3000 records put", rss0, rss1, (rss1-rss0)>>10)
	if rss1-rss0 > 128<<10 {
		t.Errorf("sluice grew %d MiB under 150 header-only requests", (rss1-rss0)>>10)
	}
	seen, err := harness.StreamCount(ctx, kc, "orders", func(b []byte) string { return string(b) })
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	if lost > 0 || len(acked) == 0 {
		t.Fatalf("%d of %d acknowledged records not read back", lost, len(acked))
	}

	for _, c := range attackers {
		c.Close()
	}

	// Firehose on the same port is verified too.
	firehose := func(c aws.CredentialsProvider) *fh.Client {
		return fh.New(fh.Options{Region: "us-east-1", BaseEndpoint: aws.String(ep), Credentials: c, RetryMaxAttempts: 1})
	}
	for _, tc := range []struct {
		creds aws.CredentialsProvider
		code  string
	}{
		{aws.AnonymousCredentials{}, "MissingAuthenticationTokenException"},
		{credentials.NewStaticCredentialsProvider(ak, "wrong", ""), "InvalidSignatureException"},
	} {
		_, err := firehose(tc.creds).PutRecordBatch(ctx, &fh.PutRecordBatchInput{DeliveryStreamName: aws.String("events"),
			Records: []fhtypes.Record{{Data: []byte("forged")}}})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
			t.Fatalf("PutRecordBatch: %v, want %s", err, tc.code)
		}
		t.Logf("a forged Firehose put: %v", err)
	}
	if _, err := firehose(creds).PutRecord(ctx, &fh.PutRecordInput{DeliveryStreamName: aws.String("events"), Record: &fhtypes.Record{Data: []byte("signed")}}); err != nil {
		t.Fatalf("a signed Firehose put: %v", err)
	}
	if err := s.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	objs, err := harness.ReadBucket(filepath.Join(state, "buckets", "hostile-out"))
	if err != nil {
		t.Fatal(err)
	}
	var written []string
	for _, o := range objs {
		for _, r := range o.Records {
			written = append(written, string(r))
		}
	}
	if len(written) != 1 || written[0] != "signed" {
		t.Fatalf("the bucket holds %q, want only the signed record", written)
	}
}
