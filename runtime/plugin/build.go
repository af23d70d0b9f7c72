// Package plugin builds user functions as Go plugins with the host's own
// toolchain and flags, caches them by content hash, checks their build
// fingerprint and loads them into the host process. Linking it registers
// the "plugin" loader, the default (register.go).
//
// # Notes
//
// Go plugins never unload. A changed function builds to a new file whose
// package path differs (the linker derives a main package's plugin path from
// its content), so it loads beside the old version; each swap keeps the old
// code mapped. See RATIONALE.md.
package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/runtime/internal/gosrc"
)

// EntrySymbol is the function the build adds to a function's main package;
// the host calls it to run main(), during which sdk.Start hands over the
// handler.
const EntrySymbol = "SluiceMain"

const entrySource = `

// Added by sluice at build time.

// SluiceMain runs main() inside the Sluice host, which captures the handler
// passed to sdk.Start.
func SluiceMain() { main() }
`

// Builder compiles functions to plugins.
type Builder struct {
	// CacheDir holds built plugins; default <user cache dir>/sluice/plugins.
	CacheDir string
	// Progress receives one line per build step (stderr in the CLI).
	Progress io.Writer
	// GoCommand is the go tool to run; default "go".
	GoCommand string
	// Clock times the build; nil is the wall clock.
	Clock clock.Clock
}

// Result describes a built (or cached) plugin.
type Result = gosrc.Result

// Build compiles the main package in dir (an absolute path inside a Go
// module) unless a plugin for the same content and host is already cached.
// An up-to-date function never runs the Go toolchain.
func (b *Builder) Build(ctx context.Context, name, dir string) (Result, error) {
	host, err := HostFingerprint()
	if err != nil {
		return Result{}, err
	}
	t := gosrc.Target{
		CacheSub:  "plugins",
		As:        "a Go plugin",
		Ext:       ".so",
		Toolchain: host.key(),
		Command: func(dir, tmpDir, out string) ([]string, []string, error) {
			return pluginCommand(host, dir, tmpDir, out)
		},
		Failed: "go build",
	}
	return gosrc.Builder{CacheDir: b.CacheDir, Progress: b.Progress, GoCommand: b.GoCommand, Clock: b.Clock}.Build(ctx, t, name, dir)
}

// pluginCommand is the plugin's part of the build: SluiceMain added to
// the file that declares main(), and the host's own build flags.
func pluginCommand(host Fingerprint, dir, tmpDir, out string) (args, env []string, err error) {
	// The overlay replaces the file that declares main() with itself plus
	// SluiceMain, without touching the user's tree. (Adding a new file
	// through the overlay does not work when the files are named on the
	// command line, see below.)
	mainFile, src, err := findMain(dir)
	if err != nil {
		return nil, nil, err
	}
	entry := filepath.Join(tmpDir, filepath.Base(mainFile))
	if err := os.WriteFile(entry, append(src, []byte(entrySource)...), 0o644); err != nil {
		return nil, nil, err
	}
	overlay, _ := json.Marshal(map[string]map[string]string{
		"Replace": {mainFile: entry},
	})
	overlayPath := filepath.Join(tmpDir, "overlay.json")
	if err := os.WriteFile(overlayPath, overlay, 0o644); err != nil {
		return nil, nil, err
	}
	// The files are named on the command line rather than the package by
	// import path: for a package given by path the plugin path is its import
	// path, the same for every version, and Go refuses to open a second
	// plugin with a path it has loaded ("plugin already loaded"). For named
	// files (command-line-arguments) cmd/go derives the plugin path from
	// their content, so a changed function loads beside the old one.
	files, err := goFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	args = append([]string{"build", "-buildmode=plugin", "-o", out, "-overlay", overlayPath}, buildFlags(host)...)
	return append(args, files...), buildEnv(host), nil
}

// findMain returns the file of dir that declares func main() and its
// content.
func findMain(dir string) (string, []byte, error) {
	files, err := goFiles(dir)
	if err != nil {
		return "", nil, err
	}
	fset := token.NewFileSet()
	for _, f := range files {
		path := filepath.Join(dir, f)
		src, err := os.ReadFile(path)
		if err != nil {
			return "", nil, err
		}
		af, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			continue // the build reports it
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "main" && af.Name.Name == "main" {
				return path, src, nil
			}
		}
	}
	return "", nil, fmt.Errorf("%s has no func main() in package main: a function calls sdk.Start from main", dir)
}

// goFiles lists the package's non-test Go files, as names relative to dir.
func goFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") && !strings.HasPrefix(n, ".") && !strings.HasPrefix(n, "_") {
			files = append(files, n)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	return files, nil
}

// BuildFlags returns the go build flags that make a plugin loadable by the
// running host (also used by `make build` documentation and tests).
func buildFlags(fp Fingerprint) []string {
	var flags []string
	for _, k := range []string{"-race", "-msan", "-asan", "-trimpath"} {
		if fp.Settings[k] == "true" {
			flags = append(flags, k)
		}
	}
	if tags := fp.Settings["-tags"]; tags != "" {
		flags = append(flags, "-tags="+tags)
	}
	return flags
}

func buildEnv(fp Fingerprint) []string {
	env := []string{"CGO_ENABLED=1"}
	for _, k := range []string{"GOOS", "GOARCH", "GOAMD64"} {
		if v := fp.Settings[k]; v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}
