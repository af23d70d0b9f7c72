package template_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runtime/loader"
	"github.com/sluice-dev/sluice/template"

	// The template checks Metadata.Sluice.Loader against the loaders a
	// program links; these tests link the real ones, as sluice does.
	_ "github.com/sluice-dev/sluice/runtime/plugin"
	_ "github.com/sluice-dev/sluice/runtime/wasm"
)

// loaderTemplate is a one-function template with the given
// Metadata.Sluice and Runtime.
func loaderTemplate(sluice, runtime string) []byte {
	meta := "    Metadata:\n      Sluice:\n" + sluice
	if sluice == "" {
		meta = ""
	}
	return []byte("Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n" + meta +
		"    Properties:\n      CodeUri: fn\n      Handler: bootstrap\n      Runtime: " + runtime + "\n")
}

// TestLoaderFromRegistry: the names Metadata.Sluice.Loader accepts, the
// default, and which settings each loader takes come from the loaders'
// registrations, not from a list in the template.
func TestLoaderFromRegistry(t *testing.T) {
	if got := strings.Join(loader.Names(), " "); got != "plugin wasm" {
		t.Fatalf("registered loaders %q", got)
	}
	tests := []struct {
		name, sluice, runtime string
		wantLoader            string
		wantErr               string // "" for none
	}{
		{"default", "", "provided.al2023", "plugin", ""},
		{"wasm", "        Loader: wasm\n", "provided.al2023", "wasm", ""},
		{"wasm runs other languages", "        Loader: wasm\n", "python3.12", "wasm", ""},
		{"unknown", "        Loader: wsam\n", "provided.al2023", "", `Resources.Fn.Metadata.Sluice.Loader: must be plugin or wasm, got "wsam"`},
		{"plugin runs Go only", "        Loader: plugin\n", "python3.12", "", "the plugin loader runs Go functions only (provided.al2023, provided.al2, provided or go1.x); set Metadata.Sluice.Loader: wasm for other languages"},
		{"wasm grants", "        Loader: wasm\n        SoftTimeout: true\n", "provided.al2023", "wasm", ""},
		{"no grants for a plugin", "        SoftTimeout: true\n", "provided.al2023", "", "SoftTimeout: applies to the wasm loader only: a plugin's timeout is always soft"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := template.Parse("template.yaml", loaderTemplate(tc.sluice, tc.runtime), template.Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := plan.Functions[0].Loader; got != tc.wantLoader {
				t.Errorf("loader %q, want %q", got, tc.wantLoader)
			}
		})
	}
}
