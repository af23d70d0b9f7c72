//go:build !wasip1

package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
)

// fakeFirehose answers PutRecordBatch (AWS JSON 1.1) and rejects each
// record whose data is in reject the first time it sees it.
//
// The SDK resends a whole call when its transport fails after the request
// was sent (seen once under CPU load on a fresh clone: calls of 500, 500,
// 3). The tests check WithFirehose's own batching and per-record retries,
// not the SDK's, so a resent attempt of a call already answered (same
// amz-sdk-invocation-id) gets the same answer and is not counted again.
type fakeFirehose struct {
	mu       sync.Mutex
	reject   map[string]bool
	calls    [][]string
	streams  []string
	answered map[string][]byte // amz-sdk-invocation-id → answer
}

func (f *fakeFirehose) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("X-Amz-Target"); got != "Firehose_20150804.PutRecordBatch" {
		http.Error(w, "unexpected target "+got, http.StatusBadRequest)
		return
	}
	var in struct {
		DeliveryStreamName string
		Records            []struct{ Data []byte }
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := r.Header.Get("Amz-Sdk-Invocation-Id")
	if prev, ok := f.answered[id]; ok && id != "" {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Write(prev)
		return
	}
	var call []string
	var resps []map[string]string
	failed := 0
	for i, rec := range in.Records {
		call = append(call, string(rec.Data))
		if f.reject[string(rec.Data)] {
			delete(f.reject, string(rec.Data))
			failed++
			resps = append(resps, map[string]string{"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"})
			continue
		}
		resps = append(resps, map[string]string{"RecordId": fmt.Sprint(i)})
	}
	f.calls = append(f.calls, call)
	f.streams = append(f.streams, in.DeliveryStreamName)
	answer, _ := json.Marshal(map[string]any{"FailedPutCount": failed, "Encrypted": false, "RequestResponses": resps})
	if f.answered == nil {
		f.answered = map[string][]byte{}
	}
	f.answered[id] = answer
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Write(answer)
}

func clientFor(t *testing.T, f *fakeFirehose) *firehose.Client {
	t.Setenv("AWS_CA_BUNDLE", "")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return firehose.New(firehose.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AK", "SK", ""),
	})
}

func TestWithFirehoseDeliversAndStripsRecords(t *testing.T) {
	n := 503 // two PutRecordBatch calls: 500 + 3
	f := &fakeFirehose{reject: map[string]bool{"r1": true}}
	h := WithFirehose(func(_ context.Context, e events.KinesisEvent) (StreamResponse, error) {
		resp := StreamResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: "9"}}}
		for i := range n {
			resp.Records = append(resp.Records, OutputRecord{Data: []byte(fmt.Sprintf("r%d", i))})
		}
		return resp, nil
	}, "archive", clientFor(t, f))
	out, err := h.Invoke(context.Background(), []byte(`{"Records":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), `{"batchItemFailures":[{"itemIdentifier":"9"}]}`; got != want {
		t.Errorf("Lambda response %s, want %s", got, want)
	}
	if len(f.calls) != 3 || len(f.calls[0]) != 500 || len(f.calls[1]) != 1 || f.calls[1][0] != "r1" || len(f.calls[2]) != 3 {
		sizes := []int{}
		for _, c := range f.calls {
			sizes = append(sizes, len(c))
		}
		t.Fatalf("calls of sizes %v, want 500, the retried r1, then 3", sizes)
	}
	for _, s := range f.streams {
		if s != "archive" {
			t.Errorf("put to %q", s)
		}
	}
}

func TestWithFirehoseFailsWhenRecordsCannotBeDelivered(t *testing.T) {
	f := &fakeFirehose{reject: map[string]bool{}}
	client := clientFor(t, f)
	h := WithFirehose(func(context.Context) (StreamResponse, error) {
		f.mu.Lock()
		f.reject["x"] = true
		f.mu.Unlock()
		return StreamResponse{Records: []OutputRecord{{Data: []byte("x")}}}, nil
	}, "archive", alwaysReject{client, f})
	if _, err := h.Invoke(context.Background(), []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "still failing after 4 attempts") {
		t.Fatalf("got %v", err)
	}
}

// alwaysReject re-arms the rejection before every call.
type alwaysReject struct {
	*firehose.Client
	f *fakeFirehose
}

func (a alwaysReject) PutRecordBatch(ctx context.Context, in *firehose.PutRecordBatchInput, opts ...func(*firehose.Options)) (*firehose.PutRecordBatchOutput, error) {
	a.f.mu.Lock()
	a.f.reject["x"] = true
	a.f.mu.Unlock()
	return a.Client.PutRecordBatch(ctx, in, opts...)
}

func TestWithFirehosePassesOtherResponsesThrough(t *testing.T) {
	f := &fakeFirehose{}
	h := WithFirehose(func(context.Context) (map[string]int, error) { return map[string]int{"n": 1}, nil }, "archive", clientFor(t, f))
	out, err := h.Invoke(context.Background(), []byte(`{}`))
	if err != nil || string(out) != `{"n":1}` || len(f.calls) != 0 {
		t.Fatalf("got %s, %v, %d calls", out, err, len(f.calls))
	}
}
