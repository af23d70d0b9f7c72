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

	"github.com/sluice-dev/sluice/streams"
	kinesistrigger "github.com/sluice-dev/sluice/triggers/kinesis"
)

const kinesisTarget = "Kinesis_20131202."

// streamStage is the stream the mappings read: the embedded engine, or an
// existing Kinesis when --kinesis-endpoint is given.
type streamStage struct {
	engine *streams.Engine // nil with an external Kinesis
	reader kinesistrigger.Reader
}

func (i *instance) startStream(ctx context.Context) error {
	if i.cfg.KinesisEndpoint != "" {
		r, err := externalKinesis(ctx, i.cfg.KinesisEndpoint)
		if err != nil {
			return err
		}
		i.stream.reader = r
		i.log.Info("mappings read from an existing Kinesis", "endpoint", i.cfg.KinesisEndpoint)
		return nil
	}
	engine, err := streams.Open(filepath.Join(i.stateDir, "streams"), streams.Options{Limits: i.cfg.Limits == "on", Logger: i.log, Credentials: i.cfg.kinesisKeys()})
	if err != nil {
		return fmt.Errorf("embedded stream: %w", err)
	}
	i.onStop(func() {
		if err := engine.Close(); err != nil {
			i.log.Error("closing stream", "err", err)
		}
	})
	for _, s := range i.plan.Streams {
		if err := engine.CreateStream(ctx, s.Name, s.ShardCount); err != nil && !errors.Is(err, streams.ErrStreamExists) {
			return fmt.Errorf("creating stream %s: %w", s.Name, err)
		}
	}
	i.reg.MustRegister(engine.Collectors()...)
	i.api[kinesisTarget] = engine.Handler()
	i.routes = append(i.routes, i.streamRoutes)
	i.stream = streamStage{engine: engine, reader: engine.Client()}
	return nil
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
