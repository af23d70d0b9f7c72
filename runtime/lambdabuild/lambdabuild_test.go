package lambdabuild_test

import (
	"context"
	"debug/buildinfo"
	"debug/elf"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runtime/lambdabuild"
)

// The sample Enrich function builds unchanged as a static linux/amd64
// bootstrap with the lambda.norpc tag.
func TestBuildBootstrap(t *testing.T) {
	dir, _ := filepath.Abs("../../functions/enrich")
	out, err := lambdabuild.Build(context.Background(), dir, t.TempDir(), lambdabuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(out) != "bootstrap" {
		t.Errorf("built %s, want a file named bootstrap", out)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v, want x86-64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("bootstrap is dynamically linked; provided.al2023 needs a static binary")
		}
	}
	bi, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["GOOS"] != "linux" || !strings.Contains(settings["-tags"], "lambda.norpc") || settings["CGO_ENABLED"] != "0" {
		t.Errorf("build settings %v", settings)
	}
}

func TestBuildRejectsUnknownArchitecture(t *testing.T) {
	if _, err := lambdabuild.Build(context.Background(), ".", t.TempDir(), lambdabuild.Options{Arch: "sparc"}); err == nil {
		t.Error("sparc accepted")
	}
}
