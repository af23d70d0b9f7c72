package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/sinks/firehose"
	"github.com/sluice-dev/sluice/sinks/firehose/api"
)

// Hostile clients of the Firehose API (issue 13): a clear, short refusal.

func rawPost(t *testing.T, url, target, contentType string, body io.Reader, length int64) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", target)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the client saw %v, not an answer", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer %d %.200q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, out
}

func apiHandler(dss map[string]*firehose.DeliveryStream) http.Handler {
	return api.New("us-east-1", "123456789012", map[string]api.Stream{"direct": {DS: dss["direct"]}})
}

func TestErrorsDoNotEchoHugeInputs(t *testing.T) {
	_, dss, _ := setup(t)
	srv := httptest.NewServer(apiHandler(dss))
	defer srv.Close()
	huge := strings.Repeat("A", 100_000)
	for name, tc := range map[string]struct{ target, body string }{
		"target":      {"Firehose_20150804." + huge, "{}"},
		"stream name": {"Firehose_20150804.PutRecord", `{"DeliveryStreamName":"` + huge + `","Record":{"Data":"eA=="}}`},
	} {
		status, out := rawPost(t, srv.URL, tc.target, "application/x-amz-json-1.1", strings.NewReader(tc.body), int64(len(tc.body)))
		if status != http.StatusBadRequest || out["__type"] == "" || len(out["message"]) > 1024 || !strings.Contains(out["message"], "(100018 bytes)") && !strings.Contains(out["message"], "(100000 bytes)") {
			t.Fatalf("%s: %d %s, a %d-byte message", name, status, out["__type"], len(out["message"]))
		}
		t.Logf("%s: %s: %.100s...", name, out["__type"], out["message"])
	}
}

func TestOversizedBody(t *testing.T) {
	_, dss, _ := setup(t)
	srv := httptest.NewServer(apiHandler(dss))
	defer srv.Close()
	for name, length := range map[string]int64{"announced": 9 << 20, "chunked": -1} {
		body := io.MultiReader(strings.NewReader(`{"DeliveryStreamName":"direct","Records":[`), strings.NewReader(strings.Repeat(" ", 9<<20-42)))
		status, out := rawPost(t, srv.URL, "Firehose_20150804.PutRecordBatch", "application/x-amz-json-1.1", body, length)
		if status != http.StatusRequestEntityTooLarge || out["__type"] != "ValidationException" || out["message"] != "Request body exceeds the maximum size of 8 MiB." {
			t.Fatalf("%s: %d %v", name, status, out)
		}
	}
}
