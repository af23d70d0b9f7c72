package template_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/template"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// goldenOpts are fixed so the golden files do not depend on the machine.
var goldenOpts = map[string]template.Options{
	"full.yaml": {Region: "eu-west-1", AccountID: "123456789012"},
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

// planJSON renders a plan with machine-specific directories replaced, so
// golden files are stable across checkouts.
func planJSON(t *testing.T, p *template.Plan) []byte {
	t.Helper()
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := json.Marshal(p.TemplateDir)
	s := strings.ReplaceAll(string(b), strings.Trim(string(dir), `"`), "$TEMPLATE_DIR")
	return []byte(s + "\n")
}

// TestGoldenPlans turns the root template.yaml and testdata/*.yaml into
// plans and compares them with testdata/*.golden.
func TestGoldenPlans(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../template.yaml")
	for _, f := range files {
		name := filepath.Base(f)
		golden := strings.TrimSuffix(f, ".yaml") + ".golden"
		if f == "../template.yaml" {
			name, golden = "root", "testdata/root.golden"
		}
		t.Run(name, func(t *testing.T) {
			p, err := template.ParseFile(f, goldenOpts[filepath.Base(f)])
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			checkGolden(t, golden, planJSON(t, p))
		})
	}
}

// TestGoldenErrors checks that each testdata/bad/*.yaml fails with exactly
// the text in its .golden file.
func TestGoldenErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/bad/*.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := template.ParseFile(f, template.Options{})
			if err == nil {
				t.Fatal("ParseFile succeeded, want errors")
			}
			var errs *template.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want *template.Errors: %v", err, err)
			}
			checkGolden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(err.Error()+"\n"))
		})
	}
}
