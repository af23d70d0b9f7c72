package gosrc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// Target is what one loader's build adds to the shared skeleton (Build):
// how the output is named and keyed, and the go build command. Everything
// else — hashing the sources, the cache lookup, the temporary directory,
// running the toolchain, moving the result into the cache, progress — is
// the same for every loader.
type Target struct {
	// CacheSub is the cache's directory under the user cache directory
	// when Builder.CacheDir is empty ("plugins", "wasm").
	CacheSub string
	// As says what the function is built as, in progress lines ("a Go
	// plugin").
	As string
	// Ext is the output file's extension (".so").
	Ext string
	// Toolchain is what decides the output besides the sources (the host's
	// build fingerprint, the target platform, the Go version); it is
	// hashed with them into the cache key.
	Toolchain string
	// Command writes what the build adds to the function (its entry point)
	// into tmpDir and returns the go command's arguments, which write the
	// output to out, and the environment added to the process's.
	Command func(dir, tmpDir, out string) (args, env []string, err error)
	// Failed names the toolchain step in a build failure ("go build").
	Failed string
}

// Builder runs Targets' builds.
type Builder struct {
	// CacheDir holds the built files; default <user cache
	// dir>/sluice/<Target.CacheSub>.
	CacheDir string
	// Progress receives one line per build step; nil discards.
	Progress io.Writer
	// GoCommand is the go tool to run; default "go".
	GoCommand string
	// Clock times the build; nil is the wall clock.
	Clock clock.Clock
}

// Result describes a built (or cached) file.
type Result struct {
	Path   string
	Key    string
	Cached bool
}

// Build builds the main package in dir (an absolute path inside a Go
// module) for t, unless a build of the same sources and toolchain is
// cached: an up-to-date function never runs the Go toolchain.
func (b Builder) Build(ctx context.Context, t Target, name, dir string) (Result, error) {
	modRoot, modPath, err := FindModule(dir)
	if err != nil {
		return Result{}, fmt.Errorf("function %s: %w", name, err)
	}
	srcKey, err := SourceKey(modRoot, modPath, dir)
	if err != nil {
		return Result{}, fmt.Errorf("function %s: hashing sources: %w", name, err)
	}
	sum := sha256.Sum256([]byte(t.Toolchain + srcKey))
	key := hex.EncodeToString(sum[:])[:24]
	cacheDir, err := CacheDir(b.CacheDir, t.CacheSub)
	if err != nil {
		return Result{}, err
	}
	out := filepath.Join(cacheDir, SafeName(name)+"-"+key+t.Ext)
	if _, err := os.Stat(out); err == nil {
		return Result{Path: out, Key: key, Cached: true}, nil
	}

	clk := clock.Or(b.Clock)
	start := clk.Now()
	Progress(b.Progress, "building %s (%s) as %s", name, RelOrAbs(modRoot, dir), t.As)
	// The build writes into a temporary directory of the cache and renames
	// its output into place, so a cache hit never sees a partial file.
	tmpDir, err := os.MkdirTemp(cacheDir, ".build-*")
	if err != nil {
		return Result{}, fmt.Errorf("function %s: %w", name, err)
	}
	defer os.RemoveAll(tmpDir)
	tmpOut := filepath.Join(tmpDir, "fn"+t.Ext)
	args, env, err := t.Command(dir, tmpDir, tmpOut)
	if err != nil {
		return Result{}, fmt.Errorf("function %s: %w", name, err)
	}
	if err := GoBuild(ctx, b.GoCommand, dir, env, args); err != nil {
		return Result{}, fmt.Errorf("function %s: %s failed: %w", name, t.Failed, err)
	}
	if err := os.Rename(tmpOut, out); err != nil {
		return Result{}, fmt.Errorf("function %s: %w", name, err)
	}
	Progress(b.Progress, "built %s in %s", name, clk.Since(start).Round(10*time.Millisecond))
	return Result{Path: out, Key: key}, nil
}
