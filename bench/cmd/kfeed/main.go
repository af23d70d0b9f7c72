// Command kfeed is the benchmark's producer, run as its own process so that
// its CPU time and memory are measured apart from the stream's. It puts
// every line of an NDJSON file of click events to a Kinesis stream
// (partition key = session_id) with concurrent PutRecords calls of 500, or,
// with -rate, synthetic latency probes at a steady rate. It prints one JSON
// document on stdout: how many records were acknowledged, how long it took
// and each shard's highest acknowledged sequence number.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/sluice-dev/sluice/bench/internal/feed"
	"github.com/sluice-dev/sluice/bench/internal/ndjson"
)

func main() {
	endpoint := flag.String("endpoint", "", "Kinesis endpoint URL, e.g. http://127.0.0.1:4567")
	stream := flag.String("stream", "clickstream", "stream name")
	file := flag.String("file", "", "NDJSON file of click events to put (partition key: session_id)")
	concurrency := flag.Int("concurrency", 6, "PutRecords calls in flight")
	batch := flag.Int("batch", 500, "records per PutRecords call")
	rate := flag.Int("rate", 0, "with no -file: probe records per second")
	duration := flag.Duration("duration", 20*time.Second, "with -rate: how long to put")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	if err := run(*endpoint, *stream, *file, *concurrency, *batch, *rate, *duration, *timeout); err != nil {
		fmt.Fprintf(os.Stderr, "kfeed: %v\n", err)
		os.Exit(1)
	}
}

func run(endpoint, stream, file string, concurrency, batch, rate int, d, timeout time.Duration) error {
	if endpoint == "" {
		return fmt.Errorf("-endpoint is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	f := &feed.Feeder{API: client, Stream: stream}
	var res feed.Result
	var err error
	switch {
	case file != "":
		lines, rerr := ndjson.ReadLines(file)
		if rerr != nil {
			return rerr
		}
		recs := make([]feed.Record, len(lines))
		for i, l := range lines {
			key := ndjson.StringField(l, "session_id")
			if len(key) == 0 {
				return fmt.Errorf("%s:%d: no session_id", file, i+1)
			}
			recs[i] = feed.Record{Key: string(key), Data: l}
		}
		res, err = f.All(ctx, recs, concurrency, batch)
	case rate > 0:
		res, err = f.Steady(ctx, rate, d)
	default:
		return fmt.Errorf("give -file or -rate")
	}
	if jerr := json.NewEncoder(os.Stdout).Encode(res); jerr != nil && err == nil {
		err = jerr
	}
	return err
}
