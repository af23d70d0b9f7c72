package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/runtime/lambdabuild"
	"github.com/sluice-dev/sluice/template"
)

// cmdBuildFunctions is `sluice build [--lambda [--build-dir DIR]]`: every
// function of the template built for its loader (plugin or WASM, cached by
// content), or with --lambda as an AWS Lambda bootstrap per function,
// <build-dir>/<LogicalID>/bootstrap, the layout `sam build` writes under
// .aws-sam/build.
//
// It replaces cmdBuild in main.go (the lead wires it in).
func cmdBuildFunctions(args []string, stderr io.Writer) error {
	cfg, _ := app.ConfigFromEnv()
	fs := newFlagSet("build", stderr, &cfg)
	lambda := fs.Bool("lambda", false, "build AWS Lambda bootstraps (linux, static) instead of loading the functions")
	buildDir := fs.String("build-dir", filepath.Join(".sluice", "build"), "where --lambda writes <LogicalID>/bootstrap")
	if err := fs.Parse(args); err != nil {
		return err
	}
	plan, err := template.ParseFile(cfg.Template, template.Options{ParameterOverrides: cfg.ParameterOverrides})
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, fn := range plan.Functions {
		if *lambda {
			out, err := lambdabuild.Build(ctx, fn.CodeDir, filepath.Join(*buildDir, fn.LogicalID), lambdabuild.Options{})
			if err != nil {
				return fmt.Errorf("function %s: %w", fn.LogicalID, err)
			}
			fmt.Fprintf(stderr, "sluice: %s → %s\n", fn.LogicalID, out)
			continue
		}
		if _, err := app.LoadFunction(ctx, plan, fn, cfg.CacheDir, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "sluice: %s is built\n", fn.LogicalID)
	}
	return nil
}
