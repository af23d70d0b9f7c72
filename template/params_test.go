package template_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/template"
)

const paramTemplate = `Transform: AWS::Serverless-2016-10-31
Parameters:
  Shards: {Type: Number, Default: 2, MinValue: 1, MaxValue: 16}
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Suffix: {Type: String, AllowedPattern: "[a-z]+", MaxLength: 5}
  Keys: {Type: AWS::EC2::KeyPair::KeyName, Default: mine}
Resources:
  S:
    Type: AWS::Kinesis::Stream
    Properties:
      Name: !Sub "${Stage}-${Suffix}-${Keys}"
      ShardCount: !Ref Shards
`

func TestParameterOverrides(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]string
		wantName  string
		wantCount int
		wantErr   string
	}{
		{name: "defaults and required", overrides: map[string]string{"Suffix": "abc"}, wantName: "dev-abc-mine", wantCount: 2},
		{name: "overrides win", overrides: map[string]string{"Suffix": "x", "Stage": "prod", "Shards": "8"}, wantName: "prod-x-mine", wantCount: 8},
		{name: "missing value", wantErr: "t.yaml:5:3: parameter Suffix has no value: give it a Default or pass an override"},
		{name: "not allowed", overrides: map[string]string{"Suffix": "x", "Stage": "qa"},
			wantErr: `t.yaml:4:3: Parameters.Stage: override "qa" is not one of AllowedValues [dev, prod]`},
		{name: "pattern", overrides: map[string]string{"Suffix": "ABC"},
			wantErr: `t.yaml:5:3: Parameters.Suffix: override "ABC" does not match AllowedPattern "[a-z]+"`},
		{name: "length", overrides: map[string]string{"Suffix": "abcdef"},
			wantErr: `t.yaml:5:3: Parameters.Suffix: override "abcdef" violates MaxLength 5`},
		{name: "max value", overrides: map[string]string{"Suffix": "a", "Shards": "17"},
			wantErr: `t.yaml:3:3: Parameters.Shards: override "17" violates MaxValue 16`},
		{name: "not a number", overrides: map[string]string{"Suffix": "a", "Shards": "two"},
			wantErr: `t.yaml:3:3: Parameters.Shards: override "two" is not a number`},
		{name: "unknown override", overrides: map[string]string{"Suffix": "a", "Stge": "prod"},
			wantErr: "t.yaml: parameter override Stge: the template declares no such parameter (did you mean Stage?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := template.Parse("t.yaml", []byte(paramTemplate), template.Options{ParameterOverrides: tt.overrides})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := p.Streams[0]; s.Name != tt.wantName || s.ShardCount != tt.wantCount {
				t.Errorf("stream %s/%d, want %s/%d", s.Name, s.ShardCount, tt.wantName, tt.wantCount)
			}
		})
	}
}

func TestTransformRequired(t *testing.T) {
	src := strings.Replace(paramTemplate, "Transform: AWS::Serverless-2016-10-31\n", "", 1)
	src = strings.Replace(src, "Suffix: {Type: String,", "Suffix: {Type: String, Default: x,", 1)
	// A plain CloudFormation template needs no transform.
	if _, err := template.Parse("t.yaml", []byte(src), template.Options{}); err != nil {
		t.Fatal(err)
	}
	src += "  F: {Type: AWS::Serverless::Function, Properties: {CodeUri: f, Handler: h, Runtime: provided.al2023}}\n"
	_, err := template.Parse("t.yaml", []byte(src), template.Options{})
	if err == nil || !strings.Contains(err.Error(), "missing Transform") {
		t.Fatalf("err = %v, want missing Transform", err)
	}
}
