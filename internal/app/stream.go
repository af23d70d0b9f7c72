package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/streams"
	"github.com/sluice-dev/sluice/template"
	kinesistrigger "github.com/sluice-dev/sluice/triggers/kinesis"
)

const kinesisTarget = "Kinesis_20131202."

// streamStage is the stream the mappings read: the embedded engine, or an
// existing Kinesis when --kinesis-endpoint is given.
type streamStage struct {
	engine *streams.Engine // nil with an external Kinesis
	reader kinesistrigger.Reader
	// consumerARNs are the template's enhanced fan-out consumers'
	// registered ARNs, by "stream/consumer name".
	consumerARNs map[string]string
}

func (i *instance) startStream(ctx context.Context, plan *template.Plan) error {
	if i.cfg.KinesisEndpoint != "" {
		r, err := externalKinesis(ctx, i.cfg.KinesisEndpoint)
		if err != nil {
			return err
		}
		i.stream.reader = r
		i.log.Info("mappings read from an existing Kinesis", "endpoint", i.cfg.KinesisEndpoint)
		return nil
	}
	engine, err := streams.Open(filepath.Join(i.stateDir, "streams"), streams.Options{Limits: i.cfg.Limits == "on", Logger: i.log, Credentials: i.cfg.kinesisKeys(), Time: i.clock})
	if err != nil {
		return fmt.Errorf("embedded stream: %w", err)
	}
	i.onStop(func() {
		if err := engine.Close(); err != nil {
			i.log.Error("closing stream", "err", err)
		}
	})
	if err := i.provisionStreams(ctx, engine, plan); err != nil {
		return err
	}
	i.procReg.MustRegister(engine.Collectors()...)
	i.api[kinesisTarget] = engine.Handler()
	i.routes = append(i.routes, i.streamRoutes)
	i.stream = streamStage{engine: engine, reader: engine.Client(), consumerARNs: i.stream.consumerARNs}
	return nil
}

// provisionStreams creates the plan's streams as written (shard count,
// capacity mode, retention) and registers its enhanced fan-out consumers,
// or brings existing ones to what the plan says.
func (i *instance) provisionStreams(ctx context.Context, engine *streams.Engine, plan *template.Plan) error {
	for _, s := range plan.Streams {
		changes, err := engine.EnsureStream(ctx, streamSpec(s))
		if err != nil {
			return fmt.Errorf("stream %s (%s): %w", s.Name, s.LogicalID, err)
		}
		for _, c := range changes {
			i.log.Info("stream "+c, "stream", s.Name)
		}
	}
	consumerARNs := map[string]string{}
	for _, c := range plan.Consumers {
		arn, err := engine.EnsureConsumer(ctx, c.Stream, c.Name)
		if err != nil {
			return fmt.Errorf("stream consumer %s: %w", c.LogicalID, err)
		}
		consumerARNs[c.Stream+"/"+c.Name] = arn
	}
	return nil
}

// fanOut returns the ARN of stream's enhanced fan-out consumer name and
// a client that subscribes through it: the embedded stream's API on a
// loopback listener of the generation's own, or the external Kinesis
// client (where the consumer is registered if it is not yet, as the
// template asks).
func (g *generation) fanOut(ctx context.Context, stream, name string) (string, kinesistrigger.Subscriber, error) {
	p := g.proc
	if e := p.stream.engine; e != nil {
		arn, ok := p.stream.consumerARNs[stream+"/"+name]
		if !ok {
			var err error
			if arn, err = e.EnsureConsumer(ctx, stream, name); err != nil {
				return "", nil, err
			}
		}
		if g.sdk == nil {
			client, closeClient, err := e.SDKClient()
			if err != nil {
				return "", nil, err
			}
			g.sdk = client
			// Closed with the generation that opened it, after its
			// mappings (a generation stops in reverse order).
			g.onStop(func() { closeClient(); g.sdk = nil })
		}
		return arn, g.sdk, nil
	}
	client, ok := p.stream.reader.(*awskinesis.Client)
	if !ok {
		return "", nil, fmt.Errorf("consumer %s of %s: the Kinesis client cannot subscribe", name, stream)
	}
	desc, err := client.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
	if err != nil {
		return "", nil, fmt.Errorf("consumer %s of %s: %w", name, stream, err)
	}
	streamARN := desc.StreamDescriptionSummary.StreamARN
	got, err := client.DescribeStreamConsumer(ctx, &awskinesis.DescribeStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String(name)})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		reg, err := client.RegisterStreamConsumer(ctx, &awskinesis.RegisterStreamConsumerInput{StreamARN: streamARN, ConsumerName: aws.String(name)})
		if err != nil {
			return "", nil, fmt.Errorf("registering consumer %s of %s: %w", name, stream, err)
		}
		p.log.Info("registered enhanced fan-out consumer", "stream", stream, "consumer", name)
		return aws.ToString(reg.Consumer.ConsumerARN), client, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("consumer %s of %s: %w", name, stream, err)
	}
	return aws.ToString(got.ConsumerDescription.ConsumerARN), client, nil
}

func streamSpec(s template.Stream) streams.StreamSpec {
	return streams.StreamSpec{Name: s.Name, ShardCount: s.ShardCount, Mode: types.StreamMode(s.Mode), RetentionHours: s.RetentionHours}
}

// externalKinesis is a client for an existing Kinesis: real AWS through the
// standard credential chain when endpoint is "aws", else any
// Kinesis-compatible endpoint, with the chain's credentials when it has
// some and dummy ones otherwise (local emulators accept any).
func externalKinesis(ctx context.Context, endpoint string) (*awskinesis.Client, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	if endpoint == "aws" {
		return awskinesis.NewFromConfig(awsCfg), nil
	}
	if _, err := awsCfg.Credentials.Retrieve(ctx); err != nil {
		awsCfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
	}
	return awskinesis.NewFromConfig(awsCfg, func(o *awskinesis.Options) { o.BaseEndpoint = aws.String(endpoint) }), nil
}
