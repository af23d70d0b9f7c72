package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/internal/app"
)

// samArrival is the fixed arrival time SAM's generated events carry; the
// default keeps generated events reproducible, --now uses the clock.
var samArrival = time.Unix(1428537600, 0).UTC()

const generateUsage = `usage: sluice local generate-event kinesis <event> [flags]

events (SAM's names, plus Sluice's tumbling-window):
  get-records         a Kinesis stream event (events.KinesisEvent)
  kinesis-firehose    a Firehose data-transformation event (events.KinesisFirehoseEvent)
  streams-as-source   a Firehose transformation event for a delivery stream reading Kinesis
  tumbling-window     a Kinesis event with tumbling-window properties (events.KinesisTimeWindowEvent)
`

// cmdGenerateEvent prints a sample event as `sam local generate-event`
// does (2-space indented JSON), built from aws-lambda-go's own types so
// that Go handlers always decode it. Unlike SAM it can emit several records
// with increasing sequence numbers, real ARNs and current timestamps, and it
// does not copy SAM's streams-as-source defects (docs/semantics.md, "SAM
// generate-event").
func cmdGenerateEvent(args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "kinesis" {
		fmt.Fprint(stderr, generateUsage)
		return errors.New("name the event, e.g. `kinesis get-records`")
	}
	kind := args[1]
	fs := flag.NewFlagSet("sluice local generate-event kinesis "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	region := fs.String("region", "us-east-1", "AWS region")
	partition := fs.String("partition", "aws", "AWS partition of the ARNs")
	sequence := fs.String("sequence", "49545115243490985018280067714973144582180062593244200961", "sequence number of the first record")
	data := fs.String("data", "Hello, this is a test 123.", "record data as plain text (base64-encoded for you; for kinesis-firehose SAM takes base64 here: both work)")
	partitionKey := fs.String("partition-key", "partitionKey-03", "partition key")
	stream := fs.String("stream", "", "stream name: gives real ARNs instead of SAM's placeholders")
	deliveryStream := fs.String("delivery-stream", "", "delivery stream name (firehose events)")
	shard := fs.String("shard", "shardId-000000000000", "shard id")
	count := fs.Int("count", 1, "number of records")
	now := fs.Bool("now", false, "stamp records with the current time instead of SAM's fixed one")
	windowSeconds := fs.Int("window-seconds", 60, "tumbling-window length (tumbling-window)")
	final := fs.Bool("final", false, "isFinalInvokeForWindow (tumbling-window)")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if *count < 1 || *count > 10000 {
		return fmt.Errorf("--count %d: want 1–10000", *count)
	}
	seq0, ok := new(big.Int).SetString(*sequence, 10)
	if !ok || seq0.Sign() < 0 {
		return fmt.Errorf("--sequence %q is not a decimal sequence number", *sequence)
	}
	arrival := samArrival
	if *now {
		var cfg app.Config // the default clock
		arrival = cfg.Now().UTC().Truncate(time.Millisecond)
	}
	streamARN := fmt.Sprintf("arn:%s:kinesis:EXAMPLE", *partition)
	if *stream != "" {
		streamARN = fmt.Sprintf("arn:%s:kinesis:%s:123456789012:stream/%s", *partition, *region, *stream)
	}
	deliveryARN := fmt.Sprintf("arn:%s:firehose:%s:123456789012:deliverystream/%s", *partition, *region, orDefault(*deliveryStream, "example"))
	payload := []byte(*data)
	if kind == "kinesis-firehose" {
		// SAM's kinesis-firehose takes --data already base64-encoded.
		if b, err := base64.StdEncoding.DecodeString(*data); err == nil && *data != "" {
			payload = b
		}
	}
	seqAt := func(i int) string { return new(big.Int).Add(seq0, big.NewInt(int64(i))).String() }

	var ev any
	switch kind {
	case "get-records", "tumbling-window":
		k := events.KinesisEvent{}
		for i := 0; i < *count; i++ {
			seq := seqAt(i)
			k.Records = append(k.Records, events.KinesisEventRecord{
				Kinesis: events.KinesisRecord{
					PartitionKey: *partitionKey, KinesisSchemaVersion: "1.0", Data: payload, SequenceNumber: seq,
					ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: arrival.Add(time.Duration(i) * time.Millisecond)},
				},
				EventSource: "aws:kinesis", EventID: *shard + ":" + seq,
				InvokeIdentityArn: fmt.Sprintf("arn:%s:iam::EXAMPLE", *partition), EventVersion: "1.0",
				EventName: "aws:kinesis:record", EventSourceArn: streamARN, AwsRegion: *region,
			})
		}
		ev = k
		if kind == "tumbling-window" {
			start := arrival.Truncate(time.Duration(*windowSeconds) * time.Second)
			ev = events.KinesisTimeWindowEvent{KinesisEvent: k, TimeWindowProperties: events.TimeWindowProperties{
				Window: events.Window{
					Start: events.RFC3339EpochTime{Time: start},
					End:   events.RFC3339EpochTime{Time: start.Add(time.Duration(*windowSeconds) * time.Second)},
				},
				State: map[string]string{}, ShardID: *shard, EventSourceARN: streamARN, IsFinalInvokeForWindow: *final,
			}}
		}
	case "kinesis-firehose", "streams-as-source":
		f := events.KinesisFirehoseEvent{
			InvocationID: "invocationIdExample", DeliveryStreamArn: deliveryARN, Region: *region,
		}
		if kind == "streams-as-source" {
			f.SourceKinesisStreamArn = streamARN
		}
		for i := 0; i < *count; i++ {
			rec := events.KinesisFirehoseEventRecord{
				RecordID:                    fmt.Sprintf("%s%02d", "49546986683135544286507457936321625675700192471156785154", i),
				ApproximateArrivalTimestamp: events.MilliSecondsEpochTime{Time: arrival.Add(time.Duration(i) * time.Millisecond)},
				Data:                        payload,
			}
			if kind == "streams-as-source" {
				rec.KinesisFirehoseRecordMetadata = events.KinesisFirehoseRecordMetadata{
					ShardID: *shard, PartitionKey: *partitionKey, SequenceNumber: seqAt(i), SubsequenceNumber: 0,
					ApproximateArrivalTimestamp: events.MilliSecondsEpochTime{Time: arrival.Add(time.Duration(i) * time.Millisecond)},
				}
			}
			f.Records = append(f.Records, rec)
		}
		ev = f
		if kind == "kinesis-firehose" {
			ev = directPutEvent(f)
		}
	default:
		fmt.Fprint(stderr, generateUsage)
		return fmt.Errorf("unknown kinesis event %q", kind)
	}
	out, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, strings.TrimSpace(string(out)))
	return err
}

// firehoseDirectPutEvent is a transformation event of a Direct PUT
// delivery stream. aws-lambda-go's KinesisFirehoseEvent always writes the
// source stream ARN and a kinesisRecordMetadata (with a zero time that
// encodes as a negative number); AWS's own sample event, like a real
// Direct PUT invocation, has neither.
type firehoseDirectPutEvent struct {
	InvocationID      string                    `json:"invocationId"`
	DeliveryStreamArn string                    `json:"deliveryStreamArn"`
	Region            string                    `json:"region"`
	Records           []firehoseDirectPutRecord `json:"records"`
}

type firehoseDirectPutRecord struct {
	RecordID                    string                       `json:"recordId"`
	ApproximateArrivalTimestamp events.MilliSecondsEpochTime `json:"approximateArrivalTimestamp"`
	Data                        []byte                       `json:"data"`
}

func directPutEvent(f events.KinesisFirehoseEvent) firehoseDirectPutEvent {
	out := firehoseDirectPutEvent{InvocationID: f.InvocationID, DeliveryStreamArn: f.DeliveryStreamArn, Region: f.Region}
	for _, r := range f.Records {
		out.Records = append(out.Records, firehoseDirectPutRecord{RecordID: r.RecordID, ApproximateArrivalTimestamp: r.ApproximateArrivalTimestamp, Data: r.Data})
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
