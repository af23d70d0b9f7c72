package template_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/template"
)

// envTemplate declares one of each resource kind and a function whose
// environment variable VAL holds the expression under test, so any string an
// intrinsic yields can be observed in the plan.
const envTemplate = `Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Names: {Type: CommaDelimitedList, Default: "x,y,z"}
  Size: {Type: Number, Default: "3"}
Mappings:
  Regions:
    us-east-1: {Short: use1}
    eu-west-1: {Short: euw1}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsDev, !Equals [!Ref Size, "3"]]
  Either: !Or [!Condition IsProd, !Equals [a, b]]
Resources:
  Clicks: {Type: AWS::Kinesis::Stream, Properties: {Name: clicks}}
  Archive: {Type: AWS::S3::Bucket}
  Role: {Type: AWS::IAM::Role}
  Queue: {Type: AWS::SQS::Queue, Properties: {QueueName: dlq}}
  Out:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamName: out
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Archive.Arn
        RoleARN: !GetAtt Role.Arn
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn
      Handler: bootstrap
      Runtime: provided.al2023
      Environment:
        Variables:
          VAL: EXPR
`

func TestIntrinsics(t *testing.T) {
	tests := []struct {
		expr string
		opts template.Options
		want string // value of VAL, or the error text after "file:line:col: "
		err  bool
	}{
		{expr: `!Ref Stage`, want: "dev"},
		{expr: `!Ref Size`, want: "3"},
		{expr: `!Ref Clicks`, want: "clicks"},
		{expr: `!Ref Archive`, want: "archive"},
		{expr: `!Ref Out`, want: "out"},
		{expr: `!Ref Fn`, want: "Fn"},
		{expr: `!Ref Role`, want: "Role"},
		{expr: `!Ref Queue`, want: "https://sqs.us-east-1.amazonaws.com/000000000000/dlq"},
		{expr: `{Ref: Stage}`, want: "dev"},
		{expr: `!Ref AWS::Region`, opts: template.Options{Region: "eu-west-1"}, want: "eu-west-1"},
		{expr: `!Ref AWS::AccountId`, opts: template.Options{AccountID: "012345678901"}, want: "012345678901"},
		{expr: `!Ref AWS::Partition`, opts: template.Options{Region: "cn-north-1"}, want: "aws-cn"},
		{expr: `!Ref AWS::StackName`, want: "local"},
		{expr: `!Ref AWS::URLSuffix`, want: "amazonaws.com"},
		{expr: `!GetAtt Clicks.Arn`, want: "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"},
		{expr: `!GetAtt [Clicks, Arn]`, want: "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"},
		{expr: `{"Fn::GetAtt": [Out, Arn]}`, want: "arn:aws:firehose:us-east-1:000000000000:deliverystream/out"},
		{expr: `!GetAtt Archive.Arn`, want: "arn:aws:s3:::archive"},
		{expr: `!GetAtt Archive.RegionalDomainName`, want: "archive.s3.us-east-1.amazonaws.com"},
		{expr: `!GetAtt Fn.Arn`, opts: template.Options{Region: "eu-west-1", AccountID: "123456789012"}, want: "arn:aws:lambda:eu-west-1:123456789012:function:Fn"},
		{expr: `!GetAtt Role.Arn`, want: "arn:aws:iam::000000000000:role/Role"},
		{expr: `!GetAtt Queue.Arn`, want: "arn:aws:sqs:us-east-1:000000000000:dlq"},
		{expr: `!Sub "${Stage}-${AWS::Region}-${Clicks}-${Archive.Arn}"`, want: "dev-us-east-1-clicks-arn:aws:s3:::archive"},
		{expr: `!Sub "${!Literal}-${Stage}"`, want: "${Literal}-dev"},
		{expr: `!Sub ["${A}/${B}", {A: !Ref Stage, B: fixed}]`, want: "dev/fixed"},
		{expr: `{"Fn::Sub": "plain"}`, want: "plain"},
		{expr: `!Join ["-", [a, !Ref Stage, b]]`, want: "a-dev-b"},
		{expr: `!Join [",", !Ref Names]`, want: "x,y,z"},
		{expr: `!Join ["", []]`, want: ""},
		{expr: `!Select [1, !Ref Names]`, want: "y"},
		{expr: `!Select ["0", [p, q]]`, want: "p"},
		{expr: `!Select [2, !Split [":", "a:b:c"]]`, want: "c"},
		{expr: `!Select [0, !GetAZs ""]`, want: "us-east-1a"},
		{expr: `!If [IsProd, prod-value, dev-value]`, want: "dev-value"},
		{expr: `!If [IsDev, !Sub "${Stage}!", other]`, want: "dev!"},
		{expr: `!If [Both, yes, no]`, want: "yes"},
		{expr: `!If [Either, yes, no]`, want: "no"},
		{expr: `!FindInMap [Regions, !Ref AWS::Region, Short]`, want: "use1"},
		{expr: `!FindInMap [Regions, !Ref AWS::Region, Short]`, opts: template.Options{Region: "eu-west-1"}, want: "euw1"},
		{expr: `!Base64 hi`, want: "aGk="},
		{expr: `"0123"`, want: "0123"},
		{expr: `true`, want: "true"},

		{expr: `!Ref Nope`, err: true, want: "Ref Nope: no parameter or resource named Nope"},
		{expr: `!Ref Stag`, err: true, want: "Ref Stag: no parameter or resource named Stag (did you mean Stage?)"},
		{expr: `!GetAtt Clicks`, err: true, want: `Fn::GetAtt takes LogicalId.Attribute, got "Clicks"`},
		{expr: `!GetAtt Clicks.Name`, err: true, want: "GetAtt Clicks.Name: AWS::Kinesis::Stream has no attribute Name"},
		{expr: `!Sub "${Nope}"`, err: true, want: "Fn::Sub ${Nope}: no parameter or resource named Nope"},
		{expr: `!Sub "${Names}"`, err: true, want: "Fn::Sub: ${Names} must resolve to a string, got a list"},
		{expr: `!Select [5, [a]]`, err: true, want: `Fn::Select: index "5" out of range for a list of 1`},
		{expr: `!If [Nope, a, b]`, err: true, want: "no condition named Nope"},
		{expr: `!Equals [a, a]`, err: true, want: "Fn::Equals can only be used in the Conditions section"},
		{expr: `!ImportValue x`, err: true, want: "Fn::ImportValue cannot be resolved by Sluice"},
		{expr: `!Jion [",", [a]]`, err: true, want: "unknown intrinsic function Fn::Jion (did you mean Fn::Join?)"},
		{expr: `!FindInMap [Regions, mars, Short]`, err: true, want: `Fn::FindInMap: no key "mars" in Mappings.Regions`},
		{expr: `!Ref Names`, err: true, want: "Resources.Fn.Properties.Environment.Variables.VAL: must be a string, got a list"},
		{expr: `[a]`, err: true, want: "Resources.Fn.Properties.Environment.Variables.VAL: must be a string, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			src := strings.Replace(envTemplate, "EXPR", tt.expr, 1)
			p, err := template.Parse("t.yaml", []byte(src), tt.opts)
			if tt.err {
				var errs *template.Errors
				if !errors.As(err, &errs) {
					t.Fatalf("err = %v, want *template.Errors", err)
				}
				if len(errs.List) != 1 || errs.List[0].Msg != tt.want {
					t.Fatalf("errors:\n%v\nwant exactly: %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Functions[0].Environment["VAL"]; got != tt.want {
				t.Errorf("VAL = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNoValue checks that AWS::NoValue removes the property, so the default
// applies.
func TestNoValue(t *testing.T) {
	src := strings.Replace(envTemplate, "VAL: EXPR", "VAL: !Ref AWS::NoValue\n      Timeout: !If [IsProd, 9, !Ref AWS::NoValue]", 1)
	p, err := template.Parse("t.yaml", []byte(src), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := p.Functions[0]
	if _, ok := f.Environment["VAL"]; ok || f.Timeout.Seconds() != 3 {
		t.Errorf("Environment = %v, Timeout = %v; want no VAL and the 3s default", f.Environment, f.Timeout)
	}
}

// TestConditionalResource checks that a resource whose condition is false is
// left out, and that referring to it is an error.
func TestConditionalResource(t *testing.T) {
	src := strings.Replace(envTemplate, "  Archive: {Type: AWS::S3::Bucket}", "  Archive: {Type: AWS::S3::Bucket, Condition: IsProd}", 1)
	src = strings.Replace(src, "VAL: EXPR", "VAL: plain", 1)
	_, err := template.Parse("t.yaml", []byte(src), template.Options{})
	if err == nil || !strings.Contains(err.Error(), "Archive is not created because its condition IsProd is false") {
		t.Fatalf("err = %v, want a reference-to-excluded-resource error", err)
	}
	p, err := template.Parse("t.yaml", []byte(src), template.Options{ParameterOverrides: map[string]string{"Stage": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Buckets) != 1 || p.Buckets[0].Name != "archive" {
		t.Errorf("Buckets = %+v, want archive", p.Buckets)
	}
}
