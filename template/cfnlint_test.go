package template_test

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// sluiceOnly are bad templates that cfn-lint accepts: they break rules that
// only Sluice has (how a function picks its delivery stream, what
// Metadata.Sluice grants a WASM guest), or rules the Firehose API enforces
// only when the stream is created (processor parameter values), beyond
// cfn-lint's schema.
var sluiceOnly = map[string]bool{"delivery_choice.yaml": true, "wasm_grants.yaml": true, "deaggregation.yaml": true}

// TestCfnLint checks our fixtures against an independent implementation:
// cfn-lint, which runs the real SAM translator. Every template Sluice
// accepts must pass it, so it stays deployable with `sam deploy`, and every
// template Sluice rejects should fail it too, so our errors are AWS's.
func TestCfnLint(t *testing.T) {
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint not installed")
	}
	if testing.Short() {
		t.Skip("slow: runs cfn-lint")
	}
	good, _ := filepath.Glob("testdata/*.yaml")
	good = append(good, "../template.yaml")
	if out, err := exec.Command(lint, good...).CombinedOutput(); err != nil {
		t.Errorf("cfn-lint rejects templates Sluice accepts: %v\n%s", err, out)
	}
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, f := range bad {
		if sluiceOnly[filepath.Base(f)] {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			if err := exec.Command(lint, f).Run(); err == nil {
				t.Errorf("cfn-lint accepts %s, which Sluice rejects", f)
			}
		})
	}
}
