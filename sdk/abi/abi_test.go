package abi_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk/abi"
)

func sampleEvent() events.KinesisEvent {
	rec := func(seq, pk string, data []byte) events.KinesisEventRecord {
		return events.KinesisEventRecord{
			EventSource: "aws:kinesis", EventVersion: "1.0", EventName: "aws:kinesis:record",
			EventID: "shardId-000000000001:" + seq, InvokeIdentityArn: "arn:aws:iam::000000000000:role/r",
			AwsRegion: "eu-west-1", EventSourceArn: "arn:aws:kinesis:eu-west-1:000000000000:stream/s",
			Kinesis: events.KinesisRecord{KinesisSchemaVersion: "1.0", PartitionKey: pk, SequenceNumber: seq, Data: data,
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: time.Unix(1767323045, 678000000)}},
		}
	}
	return events.KinesisEvent{Records: []events.KinesisEventRecord{
		rec("1", "a", []byte(`{"x":1}`)), rec("2", "b", []byte{}), rec("3", "", nil),
	}}
}

// The binary batch decodes to an event whose Lambda JSON is identical to
// the original's: a handler cannot tell which way its event arrived.
func TestKinesisRoundTrip(t *testing.T) {
	ev := sampleEvent()
	if !abi.CanEncodeKinesis(&ev) {
		t.Fatal("a one-shard batch should fit the binary layout")
	}
	h := abi.Header{Kind: abi.KindKinesis, RequestID: "rid", FunctionARN: "arn", DeadlineMs: 1767323045678}
	b := abi.AppendKinesis(abi.AppendHeader(nil, h), &ev)
	gotH, body, err := abi.DecodeHeader(b)
	if err != nil || gotH != h {
		t.Fatalf("header %+v, %v", gotH, err)
	}
	got, err := abi.DecodeKinesis(body)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(ev)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(want, gotJSON) {
		t.Errorf("round trip changed the event:\n got  %s\n want %s", gotJSON, want)
	}
}

func TestCanEncodeKinesis(t *testing.T) {
	ev := sampleEvent()
	ev.Records[2].AwsRegion = "us-east-1"
	if abi.CanEncodeKinesis(&ev) {
		t.Error("records that disagree on batch fields must go as JSON")
	}
	if abi.CanEncodeKinesis(&events.KinesisEvent{}) {
		t.Error("an empty batch must go as JSON")
	}
}

func TestStreamRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures []abi.Failure
		records  []abi.Record
	}{
		{"nil", nil, nil},
		{"empty failures", []abi.Failure{}, nil},
		{"full", []abi.Failure{{ItemIdentifier: "7"}, {ItemIdentifier: ""}}, []abi.Record{
			{Data: []byte("a")}, {Data: []byte{}}, {Data: nil, PartitionKeys: map[string]string{"k": "v", "": "e"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, r, err := abi.DecodeStream(abi.AppendStream(nil, tc.failures, tc.records))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f, tc.failures) || !reflect.DeepEqual(r, tc.records) {
				t.Errorf("got %#v %#v, want %#v %#v", f, r, tc.failures, tc.records)
			}
		})
	}
}

// FuzzDecode: the guest and host decoders never panic or over-allocate on
// arbitrary bytes from the other side of the boundary, and whatever decodes
// re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	ev := sampleEvent()
	f.Add(abi.AppendKinesis(abi.AppendHeader(nil, abi.Header{Kind: 1, RequestID: "r"}), &ev))
	f.Add(abi.AppendStream(nil, []abi.Failure{{ItemIdentifier: "1"}}, []abi.Record{{Data: []byte("x"), PartitionKeys: map[string]string{"a": "b"}}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, body, err := abi.DecodeHeader(b); err == nil {
			if e, err := abi.DecodeKinesis(body); err == nil && abi.CanEncodeKinesis(&e) {
				if again := abi.AppendKinesis(nil, &e); !bytes.Equal(again, body[:len(again)]) {
					t.Fatalf("kinesis re-encoding differs")
				}
			}
		}
		if fs, rs, err := abi.DecodeStream(b); err == nil {
			again := abi.AppendStream(nil, fs, rs)
			if f2, r2, err := abi.DecodeStream(again); err != nil || !reflect.DeepEqual(fs, f2) || !reflect.DeepEqual(rs, r2) {
				t.Fatalf("stream round trip differs")
			}
		}
	})
}
