package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validateTemplate is a one-function pipeline; each case edits it.
const validateTemplate = `Transform: AWS::Serverless-2016-10-31
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
  Enrich:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./fn
      Handler: bootstrap
      Runtime: provided.al2023
      Events:
        Read:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: LATEST
`

func TestValidateStrict(t *testing.T) {
	tests := []struct {
		name       string
		edit       func(string) string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{
			name:       "valid",
			args:       []string{"--strict"},
			wantStdout: "template.yaml is a valid Sluice template and conforms to SAM's schema\n",
		},
		{
			name:     "misspelt function property: both checks say so",
			edit:     func(s string) string { return strings.Replace(s, "CodeUri", "CodeURI", 1) },
			args:     []string{"--strict"},
			wantCode: 1,
			wantStderr: `template.yaml:7:5: Resources.Enrich.Properties: missing required property CodeUri
template.yaml:8:7: unknown property CodeURI in Resources.Enrich.Properties (did you mean CodeUri?)
template.yaml:8:7: Resources.Enrich.Properties: additional property "CodeURI" is not allowed by SAM's schema (did you mean "CodeUri"?)
sluice: template.yaml is invalid
`,
		},
		{
			name:       "mistakes only SAM's schema sees pass without --strict",
			edit:       samOnlyMistakes,
			wantStdout: "template.yaml is a valid Sluice template\n",
		},
		{
			name:     "and fail with it",
			edit:     samOnlyMistakes,
			args:     []string{"--strict"},
			wantCode: 1,
			wantStderr: `template.yaml:12:9: Resources.Enrich.Properties.FunctionUrlConfig: additional property "AuthTyp" is not allowed by SAM's schema (did you mean "AuthType"?)
template.yaml:14:31: Resources.Enrich.Properties.EventInvokeConfig.MaximumRetryAttempts: SAM's schema wants an integer here, got "two"
sluice: template.yaml does not conform to SAM's schema (2 problems)
`,
		},
		{
			name:       "broken YAML is reported once",
			edit:       func(s string) string { return strings.Replace(s, "Handler: bootstrap", "Handler: [bootstrap", 1) },
			args:       []string{"--strict"},
			wantCode:   1,
			wantStderr: "template.yaml:9:7: invalid YAML: did not find expected ',' or ']'\nsluice: template.yaml is invalid\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "fn"), 0o755); err != nil {
				t.Fatal(err)
			}
			src := validateTemplate
			if tc.edit != nil {
				src = tc.edit(src)
			}
			if err := os.WriteFile(filepath.Join(dir, "template.yaml"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			// Relative paths, as a user types them: messages name the file so.
			t.Chdir(dir)
			code, stdout, stderr := sluice(t, "", append([]string{"validate"}, tc.args...)...)
			if code != tc.wantCode || stdout != tc.wantStdout || stderr != tc.wantStderr {
				t.Errorf("exit %d, want %d\n--- stdout\n%s--- want\n%s--- stderr\n%s--- want\n%s",
					code, tc.wantCode, stdout, tc.wantStdout, stderr, tc.wantStderr)
			}
		})
	}
}

// samOnlyMistakes are mistakes in properties Sluice does not read (they only
// matter on AWS), so only SAM's schema catches them.
func samOnlyMistakes(s string) string {
	return strings.Replace(s, "      Events:\n", `      FunctionUrlConfig:
        AuthTyp: NONE
      EventInvokeConfig:
        MaximumRetryAttempts: two
      Events:
`, 1)
}

// TestValidateStrictShipped: the root template passes both checks.
func TestValidateStrictShipped(t *testing.T) {
	code, stdout, stderr := sluice(t, "", "validate", "--strict", "-t", filepath.Join("..", "..", "template.yaml"))
	if code != 0 || !strings.HasSuffix(stdout, "conforms to SAM's schema\n") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}
