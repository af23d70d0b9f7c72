package template_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/template"
)

func TestGlobalsMerge(t *testing.T) {
	const head = "Transform: AWS::Serverless-2016-10-31\nParameters:\n  Mem: {Type: Number, Default: 512}\n"
	tests := []struct {
		name    string
		globals string // under Globals.Function
		props   string // under the function's Properties
		check   func(t *testing.T, f template.Function)
	}{
		{
			name:    "scalars: resource wins, globals fill gaps",
			globals: "Timeout: 20\n    MemorySize: 256\n    Handler: bootstrap\n    Runtime: provided.al2023\n    CodeUri: shared",
			props:   "Timeout: 5",
			check: func(t *testing.T, f template.Function) {
				if f.Timeout != 5*time.Second || f.MemorySize != 256 || f.Handler != "bootstrap" || !strings.HasSuffix(f.CodeDir, "shared") {
					t.Errorf("got %+v", f)
				}
			},
		},
		{
			name:    "maps merge recursively, resource keys win",
			globals: "Environment:\n      Variables: {AA: g, BB: g}",
			props:   "Environment:\n        Variables: {BB: r, CC: r}",
			check: func(t *testing.T, f template.Function) {
				want := map[string]string{"AA": "g", "BB": "r", "CC": "r"}
				if !maps.Equal(f.Environment, want) {
					t.Errorf("Environment = %v, want %v", f.Environment, want)
				}
			},
		},
		{
			name:    "an intrinsic on either side: resource wins whole",
			globals: "Environment: !If [Never, {Variables: {AA: g}}, {Variables: {AA: g2}}]",
			props:   "Environment:\n        Variables: {BB: r}",
			check: func(t *testing.T, f template.Function) {
				if want := map[string]string{"BB": "r"}; !maps.Equal(f.Environment, want) {
					t.Errorf("Environment = %v, want %v", f.Environment, want)
				}
			},
		},
		{
			name:    "globals may use intrinsics",
			globals: "MemorySize: !Ref Mem",
			props:   "Timeout: 1",
			check: func(t *testing.T, f template.Function) {
				if f.MemorySize != 512 {
					t.Errorf("MemorySize = %d, want 512", f.MemorySize)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + "Conditions:\n  Never: !Equals [a, b]\nGlobals:\n  Function:\n    " + tt.globals +
				"\nResources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      " + tt.props + "\n"
			if !strings.Contains(tt.globals, "Handler") {
				src += "      CodeUri: f\n      Handler: h\n      Runtime: provided.al2023\n"
			}
			p, err := template.Parse("t.yaml", []byte(src), template.Options{})
			if err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			tt.check(t, p.Functions[0])
		})
	}
}

// TestGlobalsErrorPointsAtGlobals checks that a bad global value is reported
// once, at its place in Globals, even when several functions inherit it.
func TestGlobalsErrorPointsAtGlobals(t *testing.T) {
	src := `Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 0
    CodeUri: f
    Handler: h
    Runtime: provided.al2023
Resources:
  A: {Type: AWS::Serverless::Function}
  B: {Type: AWS::Serverless::Function}
`
	_, err := template.Parse("t.yaml", []byte(src), template.Options{})
	want := "t.yaml:4:14: Resources.A.Properties.Timeout: must be between 1 and 900, got 0\n" +
		"t.yaml:4:14: Resources.B.Properties.Timeout: must be between 1 and 900, got 0"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}
