package template_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/template"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and must
// return either a plan or an error, never both or neither.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, s := range append(append(seeds, bad...), "../template.yaml") {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &a [*a, *a]"))
	f.Add([]byte("Resources: {A: {Type: AWS::Kinesis::Stream, Properties: {Name: !Sub '${A}'}}}"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := template.Parse("fuzz.yaml", src, template.Options{})
		if (p == nil) == (err == nil) {
			t.Fatalf("plan %v and error %v", p, err)
		}
		var errs *template.Errors
		if err != nil && errors.As(err, &errs) && len(errs.List) == 0 {
			t.Fatal("empty *Errors")
		}
	})
}
