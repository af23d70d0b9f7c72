package template_test

import (
	"fmt"

	"github.com/sluice-dev/sluice/template"
)

func ExampleParse() {
	src := []byte(`Transform: AWS::Serverless-2016-10-31
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties:
      Name: clickstream
      ShardCount: 2
  Enrich:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/enrich
      Handler: bootstrap
      Runtime: provided.al2023
      Events:
        Clicks:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 500
`)
	plan, err := template.Parse("template.yaml", src, template.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := plan.Streams[0]
	fmt.Printf("stream %s: %d shards, %dh retention\n", s.Name, s.ShardCount, s.RetentionHours)
	f := plan.Functions[0]
	fmt.Printf("function %s: %s, %d MB, timeout %v\n", f.Name, f.Runtime, f.MemorySize, f.Timeout)
	e := f.Events[0]
	fmt.Printf("event %s reads %s (%s) from %s in batches of %d\n", e.Name, e.Stream, e.StreamLogicalID, e.StartingPosition, e.BatchSize)

	// A misspelt property and an out-of-range value are reported together.
	_, err = template.Parse("template.yaml", []byte(`Transform: AWS::Serverless-2016-10-31
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCont: 2
      RetentionPeriodHours: 1
`), template.Options{})
	fmt.Println(err)
	// Output:
	// stream clickstream: 2 shards, 24h retention
	// function Enrich: provided.al2023, 128 MB, timeout 3s
	// event Clicks reads clickstream (Clicks) from TRIM_HORIZON in batches of 500
	// template.yaml:6:7: unknown property ShardCont in Resources.Clicks.Properties (did you mean ShardCount?)
	// template.yaml:7:29: Resources.Clicks.Properties.RetentionPeriodHours: must be between 24 and 8760, got 1
}
