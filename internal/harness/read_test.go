package harness

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/streams"
)

// cutBodies answers the GetRecords calls it is told to cut with the
// stream's status and headers and half of its body, then drops the
// connection: the transport failure a loaded CI client saw.
type cutBodies struct {
	next http.Handler
	cut  func(call int) bool
	n    atomic.Int32
}

func (c *cutBodies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".GetRecords") || !c.cut(int(c.n.Add(1))) {
		c.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	c.next.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	body := rec.Body.Bytes()
	w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

func TestReadStreamResumesAfterATransportFailure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cut     func(call int) bool
		wantErr bool
	}{
		{"every other page cut", func(call int) bool { return call%2 == 1 }, false},
		{"every page cut", func(int) bool { return true }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := streams.Open(t.TempDir(), streams.Options{CreateDelay: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			srv := httptest.NewServer(&cutBodies{next: e.Handler(), cut: tc.cut})
			defer srv.Close()
			c := KinesisClient(srv.URL)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(1)}); err != nil {
				t.Fatal(err)
			}
			const n = 2*readPage + 10
			for sent := 0; sent < n; {
				var batch []types.PutRecordsRequestEntry
				for ; sent < n && len(batch) < 500; sent++ {
					batch = append(batch, types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte(fmt.Sprintf(`{"event_id":"%d"}`, sent))})
				}
				if _, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: batch}); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			err = readStream(ctx, c, "s", func(_ string, r types.Record) { got = append(got, EventID(r.Data)) })
			if tc.wantErr {
				if err == nil {
					t.Fatal("a stream whose every read fails was read without an error")
				}
				t.Logf("error a caller sees: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("read %d records, want %d", len(got), n)
			}
			for i, id := range got {
				if id != fmt.Sprint(i) {
					t.Fatalf("record %d is event %s: a resumed read skipped or repeated records", i, id)
				}
			}
		})
	}
}
