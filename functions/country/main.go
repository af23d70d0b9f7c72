// Command country is the sample app's Firehose data-transformation
// function (a Lambda processor on the clickstream-shared delivery stream):
// it reads each record's country and returns it as a partition key, so the
// delivery stream writes one prefix per country
// (!{partitionKeyFromLambda:country}). Records without a country are
// reported ProcessingFailed and land under the error prefix. On AWS only a
// transformation function can set partition keys this way; the same source
// deploys there unchanged.
package main

import (
	"bytes"
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/valyala/fastjson"

	"github.com/sluice-dev/sluice/sdk"
)

func handle(_ context.Context, e events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	resp := events.KinesisFirehoseResponse{Records: make([]events.KinesisFirehoseResponseRecord, 0, len(e.Records))}
	for _, r := range e.Records {
		resp.Records = append(resp.Records, transform(r))
	}
	return resp, nil
}

func transform(r events.KinesisFirehoseEventRecord) events.KinesisFirehoseResponseRecord {
	out := events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Data: r.Data}
	country, ok := countryOf(r.Data)
	if !ok || country == "" {
		out.Result = events.KinesisFirehoseTransformedStateProcessingFailed
		return out
	}
	out.Result = events.KinesisFirehoseTransformedStateOk
	out.Metadata.PartitionKeys = map[string]string{"country": country}
	return out
}

// parsers are reused across records and invocations: fastjson parses
// without reflection and, with a warm parser, without allocating.
var parsers fastjson.ParserPool

// countryOf reads the country field of a JSON object with the rules of
// json.Unmarshal into struct{ Country string `json:"country"` }, which this
// replaced: keys match case-insensitively, the last match wins, null leaves
// the field empty, and any other non-string value or a document that is not
// a JSON object (or null) fails.
func countryOf(data []byte) (string, bool) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(data)
	if err != nil {
		return "", false
	}
	if v.Type() == fastjson.TypeNull {
		return "", true
	}
	o, err := v.Object()
	if err != nil {
		return "", false
	}
	country, ok := "", true
	o.Visit(func(key []byte, v *fastjson.Value) {
		if !ok || !bytes.EqualFold(key, []byte("country")) {
			return
		}
		switch v.Type() {
		case fastjson.TypeString:
			country = string(v.GetStringBytes())
		case fastjson.TypeNull:
		default:
			ok = false
		}
	})
	return country, ok
}

func main() { sdk.Start(handle) }
