package runtime

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
)

// This file is the one JSON adapter: what gives code that only speaks
// Lambda's JSON (a handler of another signature, a guest without the
// binary batch ABI, a stand-in function) the typed Kinesis path of the
// invoke contract. The batch is encoded as Lambda would send it and the
// body decoded as a StreamResponse, keeping the body for the caller's
// partial-batch rules (KinesisResult.JSON).

// KinesisViaJSON runs a decoded batch through a JSON-only call: e is
// encoded, call runs with the payload, and its body becomes the result.
// Every JSON fallback of the typed path goes through here.
func KinesisViaJSON(e *events.KinesisEvent, call func(payload []byte) ([]byte, error)) (*KinesisResult, error) {
	payload, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding the kinesis event: %w", err)
	}
	out, err := call(payload)
	if err != nil {
		return nil, err
	}
	return JSONKinesisResult(out), nil
}

// JSONKinesisResult is the result of a Kinesis invocation that answered
// with the JSON body out.
func JSONKinesisResult(out []byte) *KinesisResult {
	res := &KinesisResult{JSON: out}
	if res.JSON == nil {
		res.JSON = []byte{} // answered through JSON, with an empty body
	}
	if len(out) > 0 && string(out) != "null" {
		if json.Unmarshal(out, &res.Response) != nil {
			res.Response = sdk.StreamResponse{}
		}
	}
	return res
}

// JSONInvoker is an Invoker made of a JSON invoke function alone (a stand-in
// function, a delegate to another Invoker's Invoke): its typed path goes
// through KinesisViaJSON.
type JSONInvoker func(ctx context.Context, payload []byte) ([]byte, error)

// Invoke calls f.
func (f JSONInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	return f(ctx, payload)
}

// InvokeKinesis encodes e for f and decodes its response.
func (f JSONInvoker) InvokeKinesis(ctx context.Context, e *events.KinesisEvent) (*KinesisResult, error) {
	return KinesisViaJSON(e, func(payload []byte) ([]byte, error) { return f(ctx, payload) })
}

// JSONCaller is the JSON half of an Engine: what an engine without a typed
// Kinesis path implements.
type JSONCaller interface {
	Call(ctx context.Context, inv *Invocation) ([]byte, error)
}

// JSONEngine makes an Engine of an engine with only a JSON path: CallKinesis
// encodes the batch into inv.Payload and decodes what Call returns. The
// engine's Prepare and Close, if it has them, are kept.
func JSONEngine(c JSONCaller) Engine { return jsonEngine{c} }

type jsonEngine struct{ JSONCaller }

func (j jsonEngine) CallKinesis(ctx context.Context, inv *Invocation, e *events.KinesisEvent) (*KinesisResult, error) {
	return KinesisViaJSON(e, func(payload []byte) ([]byte, error) {
		inv.Payload = payload
		return j.Call(ctx, inv)
	})
}

func (j jsonEngine) Prepare(ctx context.Context) (any, error) {
	if p, ok := j.JSONCaller.(Preparer); ok {
		return p.Prepare(ctx)
	}
	return nil, nil
}

func (j jsonEngine) Close(ctx context.Context) error {
	if c, ok := j.JSONCaller.(interface{ Close(context.Context) error }); ok {
		return c.Close(ctx)
	}
	return nil
}
