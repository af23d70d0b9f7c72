package template

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemaDocumentShortTags: every short tag becomes the long form that
// `sam` and cfn-lint read, and !GetAtt's string form splits at the first dot.
func TestSchemaDocumentShortTags(t *testing.T) {
	tests := []struct{ yaml, json string }{
		{`!Ref X`, `{"Ref":"X"}`},
		{`!Condition C`, `{"Condition":"C"}`},
		{`!GetAtt A.B`, `{"Fn::GetAtt":["A","B"]}`},
		{`!GetAtt A.B.C`, `{"Fn::GetAtt":["A","B.C"]}`},
		{`!GetAtt [A, B.C]`, `{"Fn::GetAtt":["A","B.C"]}`},
		{`!GetAtt A`, `{"Fn::GetAtt":"A"}`},
		{`!Sub "x-${A}"`, `{"Fn::Sub":"x-${A}"}`},
		{`!Sub ["${a}", {a: !Ref B}]`, `{"Fn::Sub":["${a}",{"a":{"Ref":"B"}}]}`},
		{`!If [C, 1, !Ref AWS::NoValue]`, `{"Fn::If":["C",1,{"Ref":"AWS::NoValue"}]}`},
		{`!Join [",", [a, b]]`, `{"Fn::Join":[",",["a","b"]]}`},
		{`!Select [0, !Split [",", "a,b"]]`, `{"Fn::Select":[0,{"Fn::Split":[",","a,b"]}]}`},
		{`!FindInMap [M, K, V]`, `{"Fn::FindInMap":["M","K","V"]}`},
		{`!Base64 abc`, `{"Fn::Base64":"abc"}`},
		{`!Cidr ["10.0.0.0/16", 2, 8]`, `{"Fn::Cidr":["10.0.0.0/16",2,8]}`},
		{`!ImportValue shared`, `{"Fn::ImportValue":"shared"}`},
		{`!GetAZs ""`, `{"Fn::GetAZs":""}`},
		{`!Equals [a, !Ref B]`, `{"Fn::Equals":["a",{"Ref":"B"}]}`},
		{`!And [!Condition A, !Not [!Condition B]]`, `{"Fn::And":[{"Condition":"A"},{"Fn::Not":[{"Condition":"B"}]}]}`},
		{`!Or [!Equals [a, b], !Condition C]`, `{"Fn::Or":[{"Fn::Equals":["a","b"]},{"Condition":"C"}]}`},
		// A tagged scalar is its text; plain scalars keep their YAML types.
		{`!Ref 123`, `{"Ref":"123"}`},
		{`[1, 1.5, 0x10, true, ~, "2", 000123, 2024-01-02, 1e400]`, `[1,1.5,16,true,null,"2","000123","2024-01-02","1e400"]`},
		{`{a: &x [1], b: *x, "a/b~c": 2}`, `{"a":[1],"a/b~c":2,"b":[1]}`},
	}
	for _, tc := range tests {
		doc, err := schemaDocument([]byte(tc.yaml))
		if err != nil {
			t.Errorf("%s: %v", tc.yaml, err)
			continue
		}
		got, err := json.Marshal(doc.json)
		if err != nil {
			t.Errorf("%s: %v", tc.yaml, err)
			continue
		}
		if string(got) != tc.json {
			t.Errorf("%s\n got %s\nwant %s", tc.yaml, got, tc.json)
		}
	}
}

// TestSchemaDocumentPositions: every value and key maps back to its place.
func TestSchemaDocumentPositions(t *testing.T) {
	src := "Resources:\n  A:\n    Type: X\n    Properties:\n      S: !GetAtt B.Arn\n      L: [a, {k: v}]\n      a: {b: 1}\n"
	doc, err := schemaDocument([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := &schemaReporter{doc: doc}
	loc := func(ptr string) []string {
		if ptr == "" {
			return nil
		}
		return strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	}
	vals := map[string]pos{
		"":                                       {1, 1},
		"/Resources/A/Type":                      {3, 11},
		"/Resources/A/Properties/S":              {5, 10},
		"/Resources/A/Properties/S/Fn::GetAtt/1": {5, 10},
		"/Resources/A/Properties/L/1/k":          {6, 18},
		"/Resources/A/Properties/a/b":            {7, 14},
		"/Resources/A/Properties/Nope/x":         {5, 7}, // the nearest place the file has
	}
	for ptr, want := range vals {
		if got := r.at(loc(ptr), false); got != want {
			t.Errorf("value at %q: got %v, want %v", ptr, got, want)
		}
	}
	keys := map[string]pos{"/Resources/A": {2, 3}, "/Resources/A/Properties/L/1/k": {6, 15}, "/Resources/A/Properties/S/Fn::GetAtt": {5, 10}}
	for ptr, want := range keys {
		if got := r.at(loc(ptr), true); got != want {
			t.Errorf("key of %q: got %v, want %v", ptr, got, want)
		}
	}
}

func TestSchemaLookahead(t *testing.T) {
	re, err := compileLookahead(`^(?!AWS::Serverless::).+$`)
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"AWS::Kinesis::Stream": true, "AWS::Serverless::Function": false, "": false, "AWS::Serverless": true} {
		if got := re.MatchString(s); got != want {
			t.Errorf("%q: got %v, want %v", s, got, want)
		}
	}
	if _, err := compileLookahead(`^(?!a`); err == nil {
		t.Error("unterminated lookahead compiled")
	}
	if re, err := compileLookahead(`^a+$`); err != nil || !re.MatchString("aa") {
		t.Errorf("plain regexp: %v", err)
	}
}

// FuzzSchemaDocument feeds arbitrary bytes to the YAML → JSON conversion and
// the schema check: they must never panic, the document must be valid JSON,
// and every error must point into the file.
func FuzzSchemaDocument(f *testing.F) {
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
	f.Add([]byte("Resources: {A: {Type: AWS::Serverless::Function, Properties: {CodeUri: !GetAtt ., Events: !Ref [x]}}}"))
	f.Add([]byte("!GetAtt\n"))
	f.Add([]byte("x: !!binary aGk=\ny: .inf\nz: -.nan\n? [a]\n: b\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		doc, err := schemaDocument(src)
		if err == nil {
			if _, jerr := json.Marshal(doc.json); jerr != nil {
				t.Fatalf("not JSON: %v", jerr)
			}
		}
		errs, err := CheckSchema("fuzz.yaml", src)
		if err != nil && len(errs) > 0 {
			t.Fatalf("both %v and %d errors", err, len(errs))
		}
		// YAML breaks lines at LF, CRLF and a lone CR.
		lines := strings.Count(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n") + strings.Count(strings.ReplaceAll(string(src), "\r\n", ""), "\r") + 1
		for _, e := range errs {
			if e.Line < 1 || e.Col < 1 || e.Line > lines {
				t.Fatalf("error outside the file (%d lines): %v", lines, e)
			}
		}
	})
}
