package kinesis

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// FuzzClassifyResponse: any response body yields a cut inside the batch, and
// success only when the body names no record of it (docs/semantics.md, "ESM
// partial batch responses"). A body a Go handler could return typed is read
// the same either way: the typed response, and that response's JSON, get the
// same verdict.
func FuzzClassifyResponse(f *testing.F) {
	for _, s := range []string{`null`, `""`, `[]`, `{}`, `{"batchItemFailures":null}`, `{"batchItemFailures":[{"itemIdentifier":"2"}]}`,
		`{"batchItemFailures":[{"itemIdentifier":""}]}`, `{"batchItemFailures":[{"foo":1}]}`, `{"batchItemFailures":"x"}`,
		`{"batchItemFailures":[{"itemIdentifier":"0010"}]}`} {
		f.Add([]byte(s))
	}
	batch := []types.Record{{SequenceNumber: aws.String("10")}, {SequenceNumber: aws.String("2")}, {SequenceNumber: aws.String("300")}}
	f.Fuzz(func(t *testing.T, body []byte) {
		v := classifyResponse(body, batch)
		if v.failedAt < 0 || v.failedAt > len(batch) {
			t.Fatalf("failedAt %d outside the batch", v.failedAt)
		}
		if v.partial && v.failedAt == len(batch) {
			t.Fatal("partial failure that fails nothing")
		}
		var typed events.KinesisEventResponse
		if json.Unmarshal(body, &typed) != nil {
			return
		}
		asJSON, err := json.Marshal(typed)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := classifyFailures(typed.BatchItemFailures, batch), classifyResponse(asJSON, batch); a != b {
			t.Fatalf("typed %+v reads %+v, its JSON %s reads %+v", typed, a, asJSON, b)
		}
	})
}

func TestLowestFailureComparedAsBigIntegers(t *testing.T) {
	// "10" < "2" as strings, not as numbers (they compare as big integers).
	batch := []types.Record{{SequenceNumber: aws.String("2")}, {SequenceNumber: aws.String("10")}}
	v := classifyResponse([]byte(`{"batchItemFailures":[{"itemIdentifier":"10"},{"itemIdentifier":"2"}]}`), batch)
	if v.failedAt != 0 || !v.partial {
		t.Errorf("verdict %+v, want the cut at record 0 (sequence 2)", v)
	}
}
