package firehose

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// upperTransform is a Firehose transformation function written the way a
// Lambda handler would be: records containing "drop" are Dropped, "fail"
// ProcessingFailed, "skip" left out of the response; others are
// upper-cased and keyed by their first character.
func upperTransform(_ context.Context, payload []byte) ([]byte, error) {
	var ev events.KinesisFirehoseEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, err
	}
	var resp events.KinesisFirehoseResponse
	for _, r := range ev.Records {
		s := string(r.Data)
		out := events.KinesisFirehoseResponseRecord{RecordID: r.RecordID}
		switch {
		case strings.Contains(s, "drop"):
			out.Result = events.KinesisFirehoseTransformedStateDropped
		case strings.Contains(s, "fail"):
			out.Result = events.KinesisFirehoseTransformedStateProcessingFailed
		case strings.Contains(s, "skip"):
			continue
		default:
			out.Result = events.KinesisFirehoseTransformedStateOk
			out.Data = []byte(strings.ToUpper(s))
			out.Metadata.PartitionKeys = map[string]string{"first": s[:1]}
		}
		resp.Records = append(resp.Records, out)
	}
	return json.Marshal(resp)
}

func transformConfig() Config {
	c := dpConfig()
	c.Prefix = "t/first=!{partitionKeyFromLambda:first}/"
	c.MetadataExtractionQuery = ""
	c.Compression = CompressionNone
	return c
}

func TestTransformResults(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	d := openTest(t, transformConfig(), t.TempDir(), m, clk, func(o *Options) { o.Transform = upperTransform })
	mustAccept(t, d, batch("s", "7", rec("apple", clk.Now()), rec("drop me", clk.Now()), rec("fail me", clk.Now()),
		rec("berry", clk.Now()), rec("skip me", clk.Now()), rec("avocado", clk.Now())))
	if d.Checkpoint("s") != "7" {
		t.Fatalf("checkpoint %q", d.Checkpoint("s"))
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/objects_transform.golden", goldenObjects(t, m))
	if got := metricValue(d.m.recordsDropped); got != 1 {
		t.Fatalf("dropped = %v", got)
	}
}

func TestTransformFunctionErrorRetriesThenFails(t *testing.T) {
	clk := newClock()
	m := newMemDest()
	var calls atomic.Int32
	failing := func(context.Context, []byte) ([]byte, error) {
		calls.Add(1)
		return nil, errors.New("boom")
	}
	d := openTest(t, transformConfig(), t.TempDir(), m, clk, func(o *Options) { o.Transform = failing; o.TransformRetries = 2 })
	mustAccept(t, d, batch("s", "1", rec("a", clk.Now()), rec("b", clk.Now())))
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d invocations, want 1 + 2 retries", calls.Load())
	}
	keys := m.keys()
	if len(keys) != 1 || !strings.Contains(keys[0], "/processing-failed/") {
		t.Fatalf("objects %v", keys)
	}
	body := m.body(t, keys[0])
	if strings.Count(body, `"errorCode":"Lambda.FunctionError"`) != 2 || !strings.Contains(body, `"rawData":"YQ=="`) {
		t.Fatalf("error output:\n%s", body)
	}
}
