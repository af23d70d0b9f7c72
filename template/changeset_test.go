package template_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/template"
)

func parse(t *testing.T, src string) *template.Plan {
	t.Helper()
	p, err := template.Parse("t.yaml", []byte(src), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const baseTemplate = `AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties:
      Name: clicks
      ShardCount: 2
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Handler: bootstrap
      Runtime: provided.al2023
      Events:
        Src:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 100
`

func TestDiffGolden(t *testing.T) {
	base := parse(t, baseTemplate)
	tests := []struct {
		name string
		edit func(string) string
		code map[string]string
	}{
		{"no-change", func(s string) string { return s }, nil},
		{"batch-size-and-code", func(s string) string { return strings.Replace(s, "BatchSize: 100", "BatchSize: 250", 1) }, map[string]string{"Fn": "v2"}},
		{"starting-position-replaces-mapping", func(s string) string {
			return strings.Replace(s, "StartingPosition: TRIM_HORIZON", "StartingPosition: LATEST", 1)
		}, nil},
		{"reshard-and-rename", func(s string) string {
			return strings.Replace(strings.Replace(s, "ShardCount: 2", "ShardCount: 4", 1), "Name: clicks", "Name: clicks-v2", 1)
		}, nil},
		{"add-bucket-delete-function", func(s string) string {
			return s[:strings.Index(s, "  Fn:")] + "  Archive:\n    Type: AWS::S3::Bucket\n"
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next := parse(t, tc.edit(baseTemplate))
			newCode := map[string]string{"Fn": "v1"}
			for k, v := range tc.code {
				newCode[k] = v
			}
			got := template.FormatChangeSet(template.Diff(base, next, template.DiffOptions{
				OldCode: map[string]string{"Fn": "v1"}, NewCode: newCode,
			}))
			golden := filepath.Join("testdata", "changesets", tc.name+".golden")
			if *update {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if got != string(want) {
				t.Errorf("change set differs from %s:\n%s", golden, got)
			}
		})
	}
}
