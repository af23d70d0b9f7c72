// Command scrub is a sample transform meant to run as a WASM module
// (Metadata: Sluice: Loader: wasm): it anonymises click events before they
// leave the pipeline. The client IP keeps its network but not its host
// (IPv4: last octet zeroed; IPv6: only the first three groups, a /48, are
// kept) and the fields that identify a person — user_id, user_agent,
// email — are dropped. Every other field is copied byte for byte.
//
// It edits each event with sdk/jsonobj instead of decoding it with
// encoding/json: Go compiled to WASM runs ~11× slower than native, and
// reflection-based JSON is the slowest part of it. jsonobj is the SDK's
// small, fuzzed helper for exactly this (find, add, drop top-level fields;
// keep the rest byte for byte), and your handlers can use it too. Like every
// Sluice function it builds unchanged as a Go plugin and as a Lambda
// bootstrap.
//
// Template:
//
//	Scrub:
//	  Type: AWS::Serverless::Function
//	  Metadata:
//	    BuildMethod: go1.x
//	    Sluice:
//	      Loader: wasm
//	  Properties:
//	    CodeUri: functions/scrub
//	    Handler: bootstrap
//	    Runtime: provided.al2023
package main

import "github.com/sluice-dev/sluice/sdk"

func main() {
	sdk.Start(handle)
}
