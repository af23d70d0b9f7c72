// Package template turns a SAM-like template.yaml into a resolved Plan: the
// streams, functions, event-source mappings, delivery streams and buckets a
// Sluice instance runs.
//
// The input stays a valid AWS SAM template, so the same file deploys with
// `sam deploy`. Parse reads YAML with CloudFormation short tags (!Ref, !GetAtt,
// !Sub, ...), merges Globals.Function as SAM does, resolves Parameters,
// Conditions and intrinsic functions, and validates every property it reads
// against AWS types and ranges. It knows no running component: wiring a Plan
// to streams, triggers and sinks happens elsewhere.
//
// # Errors
//
// When a template is invalid, Parse returns a *Errors listing every problem in
// file order, each formatted file:line:col: message. Misspelt property names
// carry a "did you mean X?" hint.
//
// # Local choices
//
//   - A resource without a name property gets its logical ID as physical name
//     (AWS would generate <stack>-<LogicalId>-<random>; sam local also uses
//     the logical ID). Buckets use the lower-cased logical ID, since S3 names
//     must be lower case.
//   - Pseudo parameters: AWS::StackName is "local" (as under sam local),
//     AWS::Region and AWS::AccountId come from Options.
//   - Sluice-only settings live under a resource's Metadata.Sluice, which SAM
//     and CloudFormation ignore.
//
// The AWS behaviours this package relies on are described in
// docs/semantics.md ("Functions and SAM", "Lambda event-source mapping",
// "Amazon Data Firehose").
package template
