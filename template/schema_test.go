package template_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/template"
)

// shippedTemplates are the templates in this repository meant to be valid:
// the root template.yaml, template/testdata/*.yaml (the bad ones live in
// testdata/bad), and every template under samples/, e2e/testdata/ and
// bench/templates/ (any *.yaml there with a top-level Resources section).
func shippedTemplates(t *testing.T) []string {
	t.Helper()
	files := []string{"../template.yaml"}
	good, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, good...)
	isTemplate := regexp.MustCompile(`(?m)^Resources:`)
	for _, dir := range []string{"../samples", "../e2e/testdata", "../bench/templates"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			if ext := filepath.Ext(path); d.IsDir() || (ext != ".yaml" && ext != ".yml") {
				return nil
			}
			if src, err := os.ReadFile(path); err == nil && isTemplate.Match(src) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return files
}

// TestSchemaShippedTemplates checks every template we ship against SAM's own
// JSON schema, so each stays deployable with `sam deploy` (this replaces the
// cfn-lint test, which needed a Python tool that is not installable here).
func TestSchemaShippedTemplates(t *testing.T) {
	files := shippedTemplates(t)
	if len(files) < 6 {
		t.Fatalf("found only %d templates: %v", len(files), files)
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(filepath.ToSlash(f), "../"), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			errs, err := template.CheckSchema(f, src)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range errs {
				t.Error(e)
			}
		})
	}
}

// TestSchemaBadFixtures: the testdata/bad templates whose mistakes SAM's
// schema can see (misspelt SAM properties and sections) fail it at the
// same place Parse reports; the others break rules beyond the schema
// (ranges, references, Sluice's own wiring), which it passes through.
func TestSchemaBadFixtures(t *testing.T) {
	want := map[string][]string{
		"misspelt.yaml": {
			`testdata/bad/misspelt.yaml:9:5: Resources.Fn: additional property "Propertys" is not allowed by SAM's schema (did you mean "Properties"?)`,
			`testdata/bad/misspelt.yaml:14:7: Resources.Fn2.Properties: additional property "Handlr" is not allowed by SAM's schema (did you mean "Handler"?)`,
			`testdata/bad/misspelt.yaml:22:13: Resources.Fn2.Properties.Events.E.Properties: additional property "BatchSzie" is not allowed by SAM's schema (did you mean "BatchSize"?)`,
		},
		"structure.yaml": {
			`testdata/bad/structure.yaml:3:3: Globals: additional property "Functions" is not allowed by SAM's schema (did you mean "Function"?)`,
			`testdata/bad/structure.yaml:8:5: Resources.Fn: additional property "DependOn" is not allowed by SAM's schema (did you mean "DependsOn"?)`,
		},
		"many.yaml": {
			`testdata/bad/many.yaml:5:5: Globals.Function: additional property "Role" is not allowed by SAM's schema`,
		},
	}
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			errs, err := template.CheckSchema(filepath.ToSlash(f), src)
			if strings.HasPrefix(name, "syntax_") {
				if err == nil {
					t.Fatalf("no error for broken YAML")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, want[name]) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want[name], "\n"))
			}
			// Where the schema objects, Parse objects at the same place.
			_, perr := template.Parse(filepath.ToSlash(f), src, template.Options{})
			for _, e := range errs {
				at := strings.SplitN(e.Error(), ": ", 2)[0] + ": "
				if perr == nil || !strings.Contains(perr.Error(), at) {
					t.Errorf("Parse reports nothing at %s", at)
				}
			}
		})
	}
}

const schemaBase = `Transform: AWS::Serverless-2016-10-31
Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
  Enrich:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./fn
      Handler: bootstrap
      Runtime: provided.al2023
%s      Events:
        Read:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: LATEST
%s`

// TestSchemaMessages pins the messages, places and the "did you mean"
// hints a user sees from `sluice validate --strict`.
func TestSchemaMessages(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		want      []string
		wantError bool
	}{
		{name: "valid with intrinsics", src: `Transform: AWS::Serverless-2016-10-31
Parameters:
  Env: {Type: String, Default: dev}
Mappings:
  Sizes: {dev: {Mem: 128}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Both: !And [!Condition IsProd, !Not [!Condition IsProd]]
Globals:
  Function:
    Timeout: !If [IsProd, 30, 10]
    MemorySize: !FindInMap [Sizes, !Ref Env, Mem]
Resources:
  Clicks:
    Type: AWS::Kinesis::Stream
  Enrich:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ./fn
      Description: !Sub fn-${Env}
      Handler: !Join ["", [boot, strap]]
      Runtime: !Select [0, !Split [",", "provided.al2023,go1.x"]]
      KmsKeyArn: !Base64 hello
      Environment:
        Variables:
          ARN: !GetAtt Clicks.Arn
          AZ: !Select [0, !GetAZs ""]
          IMPORTED: !ImportValue shared-thing
          CIDR: !Select [0, !Cidr ["10.0.0.0/16", 2, 8]]
      Events:
        Read:
          Type: Kinesis
          Properties:
            Stream: !GetAtt [Clicks, Arn]
            StartingPosition: LATEST
            BatchSize: 100
`},
		{name: "misspelt function property",
			src:  strings.Replace(schemaBase, "CodeUri", "CodeURI", 1),
			want: []string{`t.yaml:12:7: Resources.Enrich.Properties: additional property "CodeURI" is not allowed by SAM's schema (did you mean "CodeUri"?)`}},
		{name: "misspelt event property",
			src:  strings.Replace(schemaBase, "StartingPosition", "StartingPositon", 1),
			want: []string{`t.yaml:20:13: Resources.Enrich.Properties.Events.Read.Properties: additional property "StartingPositon" is not allowed by SAM's schema (did you mean "StartingPosition"?)`}},
		{name: "misspelt nested property, the required one it meant is not reported twice",
			src:  strings.Replace(schemaBase, "%s      Events", "      FunctionUrlConfig:\n        AuthTyp: NONE\n      Events", 1),
			want: []string{`t.yaml:16:9: Resources.Enrich.Properties.FunctionUrlConfig: additional property "AuthTyp" is not allowed by SAM's schema (did you mean "AuthType"?)`}},
		{name: "wrong type",
			src:  strings.Replace(schemaBase, "%s      Events", "      EventInvokeConfig:\n        MaximumRetryAttempts: two\n      Events", 1),
			want: []string{`t.yaml:16:31: Resources.Enrich.Properties.EventInvokeConfig.MaximumRetryAttempts: SAM's schema wants an integer here, got "two"`}},
		{name: "no alternative fits",
			src:  strings.Replace(schemaBase, "./fn", "5", 1),
			want: []string{`t.yaml:12:16: Resources.Enrich.Properties.CodeUri: SAM's schema wants a mapping or a string here, got a number`}},
		{name: "intrinsic where SAM wants a literal",
			src:  strings.Replace(schemaBase, "./fn", "!Sub ./fn-${Env}", 1),
			want: []string{`t.yaml:12:16: Resources.Enrich.Properties.CodeUri: SAM's schema does not accept an intrinsic function (Fn::Sub) here`}},
		{name: "misspelt resource type",
			src:  strings.Replace(schemaBase, "AWS::Serverless::Function", "AWS::Serverless::Functoin", 1),
			want: []string{`t.yaml:10:11: Resources.Enrich.Type: "AWS::Serverless::Functoin" is not one of the 11 values SAM's schema allows here (did you mean "AWS::Serverless::Function"?)`}},
		{name: "misspelt event type",
			src:  strings.Replace(schemaBase, "Type: Kinesis", "Type: Kinesiss", 1),
			want: []string{`t.yaml:17:17: Resources.Enrich.Properties.Events.Read.Type: "Kinesiss" is not one of the 19 values SAM's schema allows here (did you mean "Kinesis"?)`}},
		{name: "missing type",
			src:  strings.Replace(schemaBase, "    Type: AWS::Kinesis::Stream\n", "    Properties: {}\n", 1),
			want: []string{`t.yaml:7:3: Resources.Clicks: missing property "Type", which SAM's schema requires`}},
		{name: "misspelt Globals property",
			src:  "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function:\n    Timout: 3\nResources: {}\n",
			want: []string{`t.yaml:4:5: Globals.Function: additional property "Timout" is not allowed by SAM's schema (did you mean "Timeout"?)`}},
		{name: "other resource types pass on Type alone",
			src: "Resources:\n  S:\n    Type: AWS::Kinesis::Stream\n    Properties: {ShardCont: x}\n"},
		{name: "no Resources",
			src:  "Transform: AWS::Serverless-2016-10-31\n",
			want: []string{`t.yaml:1:1: template: missing property "Resources", which SAM's schema requires`}},
		{name: "not a mapping",
			src:  "- 1\n",
			want: []string{`t.yaml:1:1: template: SAM's schema wants a mapping here, got a list`}},
		{name: "list index in the path",
			src:  strings.Replace(schemaBase, "%s      Events", "      Policies: [AWSLambdaBasicExecutionRole, 3]\n      Events", 1),
			want: []string{`t.yaml:15:47: Resources.Enrich.Properties.Policies[1]: SAM's schema wants a mapping or a string here, got a number`}},
		{name: "broken YAML", src: "Resources: [", wantError: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			if strings.Count(src, "%s") == 2 {
				src = strings.Replace(strings.Replace(src, "%s", "", 1), "%s", "", 1)
			} else {
				src = strings.Replace(src, "%s", "", -1)
			}
			errs, err := template.CheckSchema("t.yaml", []byte(src))
			if (err != nil) != tc.wantError {
				t.Fatalf("error %v, want error: %v", err, tc.wantError)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
