package app

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/sluice-dev/sluice/runtime/lambdabuild"
	"github.com/sluice-dev/sluice/template"
)

// This file is `sluice build`: every function of the template built for
// its loader, or for AWS Lambda.

// BuildRequest says what to build, and for where.
type BuildRequest struct {
	// Config names the template, its parameter overrides and the cache.
	Config Config
	// Lambda builds AWS Lambda bootstraps (linux, static) instead of
	// building and loading the functions for their loaders: one per
	// function, <LambdaDir>/<LogicalID>/bootstrap, the layout `sam build`
	// writes under .aws-sam/build.
	Lambda    bool
	LambdaDir string
	// Progress receives build progress, one line per function.
	Progress io.Writer
}

// BuildFunctions builds every function of the template. Without Lambda
// each is built (or found cached) and loaded with its loader, so that a
// function that cannot start fails here rather than at `sluice up`.
func BuildFunctions(ctx context.Context, req BuildRequest) error {
	plan, err := template.ParseFile(req.Config.Template, template.Options{ParameterOverrides: req.Config.ParameterOverrides})
	if err != nil {
		return err
	}
	for _, fn := range plan.Functions {
		if req.Lambda {
			out, err := lambdabuild.Build(ctx, fn.CodeDir, filepath.Join(req.LambdaDir, fn.LogicalID), lambdabuild.Options{})
			if err != nil {
				return fmt.Errorf("function %s: %w", fn.LogicalID, err)
			}
			buildProgress(req.Progress, "%s → %s", fn.LogicalID, out)
			continue
		}
		f, err := LoadFunction(ctx, plan, fn, req.Config.CacheDir, req.Progress)
		if err != nil {
			return err
		}
		_ = f.Close(ctx)
		buildProgress(req.Progress, "%s is built", fn.LogicalID)
	}
	return nil
}

// buildProgress writes one "sluice: ..." line to w, if w is not nil.
func buildProgress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "sluice: "+format+"\n", args...)
	}
}
