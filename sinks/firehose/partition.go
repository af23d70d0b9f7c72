package firehose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/itchyny/gojq"
)

// This file turns a record into partition keys (spec C.8): the
// MetadataExtraction JQ query for partitionKeyFromQuery, the producing
// function's keys for partitionKeyFromLambda.

// Error output types and codes for records that cannot be partitioned.
// activePartitionExceeded is documented (FH-DPBUF); the others are not
// (spec F, C.8) and are named here in one place so they are easy to align
// once verified against AWS.
const (
	ErrTypeActivePartitionExceeded = "activePartitionExceeded"
	ErrTypeMetadataExtraction      = "metadataExtractionFailed"
	ErrTypePrefixEvaluation        = "prefixEvaluationFailed"

	codeMetadataExtraction = "DynamicPartitioning.MetadataExtractionFailed"
	codePrefixEvaluation   = "DynamicPartitioning.PrefixEvaluationFailed"
	codeActivePartitions   = "DynamicPartitioning.ActivePartitionsLimitExceeded"
)

// recordError says why a record goes to the error output.
type recordError struct {
	Type, Code, Message string
}

func compileQuery(q string) (*gojq.Code, error) {
	parsed, err := gojq.Parse(q)
	if err != nil {
		return nil, invalidf("MetadataExtractionQuery is not a valid JQ expression: %v", err)
	}
	code, err := gojq.Compile(parsed)
	if err != nil {
		return nil, invalidf("MetadataExtractionQuery is not a valid JQ expression: %v", err)
	}
	return code, nil
}

// extractKeys runs the query on one JSON record and returns the values of
// the wanted keys. Values that are strings are used as they are; numbers
// and booleans become their JSON text; null, a missing key, arrays and
// objects fail the record (C.8, rendering of non-strings unverified).
func extractKeys(ctx context.Context, code *gojq.Code, data []byte, want []string) (map[string]string, *recordError) {
	fail := func(format string, args ...any) (map[string]string, *recordError) {
		return nil, &recordError{Type: ErrTypeMetadataExtraction, Code: codeMetadataExtraction, Message: fmt.Sprintf(format, args...)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	// No UseNumber: jq 1.6, which Firehose runs, holds every number as a
	// double, so 1.0 renders "1" and big integers lose precision there too.
	var v any
	if err := dec.Decode(&v); err != nil {
		return fail("Non JSON record provided")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail("Non JSON record provided")
	}
	iter := code.RunWithContext(ctx, v)
	out, ok := iter.Next()
	if !ok {
		return fail("MetadataExtractionQuery produced no output")
	}
	if err, isErr := out.(error); isErr {
		return fail("MetadataExtractionQuery failed: %v", err)
	}
	obj, ok := out.(map[string]any)
	if !ok {
		return fail("MetadataExtractionQuery must produce an object, got %s", gojq.TypeOf(out))
	}
	keys := make(map[string]string, len(want))
	for _, k := range want {
		val, ok := obj[k]
		if !ok || val == nil {
			return fail("partition key %q not found in the MetadataExtractionQuery output", k)
		}
		switch x := val.(type) {
		case string:
			keys[k] = x
		case bool, int, float64, *big.Int, json.Number:
			b, err := gojq.Marshal(x)
			if err != nil {
				return fail("partition key %q: %v", k, err)
			}
			keys[k] = string(b)
		default:
			return fail("partition key %q is %s, want a string, number or boolean", k, gojq.TypeOf(val))
		}
	}
	return keys, nil
}
