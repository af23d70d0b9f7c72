package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestTransform(t *testing.T) {
	ev := events.KinesisFirehoseEvent{Records: []events.KinesisFirehoseEventRecord{
		{RecordID: "1", Data: []byte(`{"event_id":"a","country":"DE"}`)},
		{RecordID: "2", Data: []byte(`{"event_id":"b"}`)},
		{RecordID: "3", Data: []byte(`not json`)},
	}}
	resp, err := handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, result, country string }{
		{"1", "Ok", "DE"},
		{"2", "ProcessingFailed", ""},
		{"3", "ProcessingFailed", ""},
	}
	for i, w := range want {
		r := resp.Records[i]
		if r.RecordID != w.id || r.Result != w.result || r.Metadata.PartitionKeys["country"] != w.country {
			t.Errorf("record %s: got %s %v, want %s %s", w.id, r.Result, r.Metadata.PartitionKeys, w.result, w.country)
		}
		if string(r.Data) != string(ev.Records[i].Data) {
			t.Errorf("record %s: data changed", w.id)
		}
	}
}

// TestCountryOfMatchesEncodingJSON: countryOf reads a record as
// json.Unmarshal into the struct it replaced did.
func TestCountryOfMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"country":"DE"}`,
		`{"Country":"FR"}`,
		`{"COUNTRY":"IT","country":"ES"}`,
		`{"country":"ES","COUNTRY":"IT"}`,
		`{"country":null}`,
		`{"country":7}`,
		`{"country":""}`,
		`{"countr\u0079":"AT"}`,
		`{"country":"\u00d6sterreich"}`,
		`{"nested":{"country":"NL"}}`,
		` {"country":"BE"} `,
		`{"country":"BE"} x`,
		`null`,
		`[]`,
		`"DE"`,
		`not json`,
		``,
	} {
		var click struct {
			Country string `json:"country"`
		}
		wantErr := json.Unmarshal([]byte(in), &click) != nil
		got, ok := countryOf([]byte(in))
		if ok == wantErr || ok && got != click.Country {
			t.Errorf("countryOf(%s) = %q, %v; encoding/json: %q, error %v", in, got, ok, click.Country, wantErr)
		}
	}
}
