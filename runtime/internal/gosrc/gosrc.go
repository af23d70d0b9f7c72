// Package gosrc finds a Go package's module and hashes the sources a build
// of it reads, so that builders (plugin, wasm) cache by content and a cache
// hit never runs the Go toolchain.
package gosrc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// FindModule walks up from dir to the enclosing go.mod.
func FindModule(dir string) (root, path string, err error) {
	for d := dir; ; {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
					p, uerr := strconv.Unquote(f[1])
					if uerr != nil {
						p = f[1]
					}
					return d, p, nil
				}
			}
			return "", "", fmt.Errorf("%s/go.mod has no module line", d)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", "", fmt.Errorf("%s is not inside a Go module", dir)
		}
		d = parent
	}
}

// SourceKey hashes everything the build of dir reads from the module: the
// module files, the function's directory and, transitively, every package of
// the same module it imports (found by parsing import clauses only, so no Go
// toolchain runs for a cache hit).
func SourceKey(modRoot, modPath, dir string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := hashFile(h, modRoot, filepath.Join(modRoot, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	seen := map[string]bool{}
	queue := []string{dir}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		seen[d] = true
		imports, err := hashPackageDir(h, modRoot, d)
		if err != nil {
			return "", err
		}
		for _, imp := range imports {
			if imp == modPath || strings.HasPrefix(imp, modPath+"/") {
				queue = append(queue, filepath.Join(modRoot, strings.TrimPrefix(imp, modPath)))
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashPackageDir hashes the non-test files of one package directory
// (embedded files included) and returns the package's imports.
func hashPackageDir(h io.Writer, modRoot, dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var imports []string
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		path := filepath.Join(dir, name)
		if err := hashFile(h, modRoot, path); err != nil {
			return nil, err
		}
		if strings.HasSuffix(name, ".go") {
			f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
			if err != nil {
				continue // the build reports syntax errors properly
			}
			for _, imp := range f.Imports {
				if p, err := strconv.Unquote(imp.Path.Value); err == nil {
					imports = append(imports, p)
				}
			}
		}
	}
	sort.Strings(imports)
	return imports, nil
}

func hashFile(h io.Writer, root, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	rel, _ := filepath.Rel(root, path)
	fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(data))
	_, err = h.Write(data)
	return err
}

// SafeName makes s usable in a file name.
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// RelOrAbs returns path relative to root when it is inside it.
func RelOrAbs(root, path string) string {
	if rel, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// CacheDir returns dir, or <user cache dir>/sluice/<sub> when dir is empty,
// creating it.
func CacheDir(dir, sub string) (string, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory: %w", err)
		}
		dir = filepath.Join(base, "sluice", sub)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%s cache: %w", sub, err)
	}
	return dir, nil
}

// GoBuild runs `goCmd args...` in dir with env added to the process
// environment; a failure carries the toolchain's output.
func GoBuild(ctx context.Context, goCmd, dir string, env, args []string) error {
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w\n%s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Progress writes one "sluice: ..." line to w, if w is not nil.
func Progress(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "sluice: "+format+"\n", args...)
	}
}
