package main

import (
	"context"
	"io"
	"path/filepath"

	"github.com/sluice-dev/sluice/internal/app"
)

// cmdBuildFunctions is `sluice build [--lambda [--build-dir DIR]]`: every
// function of the template built for its loader (cached by content), or
// with --lambda as an AWS Lambda bootstrap per function,
// <build-dir>/<LogicalID>/bootstrap, the layout `sam build` writes under
// .aws-sam/build (app.BuildFunctions).
func cmdBuildFunctions(args []string, stderr io.Writer) error {
	cfg, _ := app.ConfigFromEnv()
	fs := newFlagSet("build", stderr, &cfg)
	lambda := fs.Bool("lambda", false, "build AWS Lambda bootstraps (linux, static) instead of loading the functions")
	buildDir := fs.String("build-dir", filepath.Join(".sluice", "build"), "where --lambda writes <LogicalID>/bootstrap")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return app.BuildFunctions(context.Background(), app.BuildRequest{Config: cfg, Lambda: *lambda, LambdaDir: *buildDir, Progress: stderr})
}
