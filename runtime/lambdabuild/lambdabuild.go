// Package lambdabuild builds a function as an AWS Lambda bootstrap: the same
// package main that Sluice loads as a plugin or WASM module, compiled as a
// plain static Linux executable for the provided.al2023 runtime (what
// `sam build` does for BuildMethod go1.x). There, sdk.Start calls
// lambda.Start and sends output records to the function's Firehose delivery
// stream (sdk.DeliveryStreamEnv).
package lambdabuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Options for Build.
type Options struct {
	// Arch is amd64 (default; Architectures: x86_64) or arm64.
	Arch string
	// GoCommand is the go tool to run; default "go".
	GoCommand string
}

// Build compiles the main package in dir to outDir/bootstrap and returns
// its path. The build is static (CGO_ENABLED=0), trimmed, and tagged
// lambda.norpc, which drops aws-lambda-go's legacy RPC start path.
func Build(ctx context.Context, dir, outDir string, opts Options) (string, error) {
	arch := opts.Arch
	switch arch {
	case "", "x86_64", "amd64":
		arch = "amd64"
	case "arm64":
	default:
		return "", fmt.Errorf("lambda build: architecture %q: want x86_64 or arm64", opts.Arch)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("lambda build: %w", err)
	}
	out, err := filepath.Abs(filepath.Join(outDir, "bootstrap"))
	if err != nil {
		return "", err
	}
	goCmd := opts.GoCommand
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("lambda build of %s failed: %w\n%s", dir, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
