package firehose

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/handover"
)

// This file is Firehose data transformation through a function
// (docs/semantics.md, "Firehose data transformation"):
// records go to the function in a KinesisFirehoseEvent, and each comes
// back Ok (its new data and partition keys are delivered), Dropped
// (discarded, a success) or ProcessingFailed (its original bytes go to the
// processing-failed error output). It runs inside Accept, before the batch
// is logged, so a replay after a crash never invokes the function again.

// Transform is a data-transformation function in the runtime.Invoker
// shape: a KinesisFirehoseEvent in, a KinesisFirehoseResponse out.
type Transform func(ctx context.Context, payload []byte) ([]byte, error)

// Error output type and codes of transformation failures
// (docs/semantics.md, "Firehose error output").
const (
	ErrTypeProcessing     = "processing-failed"
	codeFunctionError     = "Lambda.FunctionError"
	codeMissingRecordID   = "Lambda.MissingRecordId"
	codeDuplicateRecordID = "Lambda.DuplicatedRecordId"
	codeBadResponse       = "Lambda.JsonProcessingException"
	codeProcessingFailed  = "Lambda.ProcessingFailed"
	codeBadResult         = "Lambda.InvalidResult"
	transformChunkBytes   = 1 << 20 // the Lambda processor's default BufferSizeInMBs
	defaultTransformRetry = 3       // NumberOfRetries
)

// transform runs the records through the function. It returns the records
// to route and, aligned with them, a failure route for those that must go
// to the error output as they are (nil for records to route normally).
func (d *DeliveryStream) transform(ctx context.Context, recs []handover.Record) ([]handover.Record, []*route) {
	var out []handover.Record
	var failed []*route
	for lo := 0; lo < len(recs); {
		hi, size := lo, 0
		for hi < len(recs) && (hi == lo || size+len(recs[hi].Data) <= transformChunkBytes) {
			size += len(recs[hi].Data)
			hi++
		}
		o, f := d.transformChunk(ctx, recs[lo:hi])
		out, failed = append(out, o...), append(failed, f...)
		lo = hi
	}
	return out, failed
}

func processingFailed(code, msg string) *route {
	rt := &route{ErrType: ErrTypeProcessing, ErrCode: code, ErrMsg: msg}
	rt.part = rt.partID()
	return rt
}

func (d *DeliveryStream) transformChunk(ctx context.Context, recs []handover.Record) ([]handover.Record, []*route) {
	ev := events.KinesisFirehoseEvent{
		DeliveryStreamArn: "arn:aws:firehose:us-east-1:000000000000:deliverystream/" + d.cc.cfg.Name,
		Region:            "us-east-1",
		Records:           make([]events.KinesisFirehoseEventRecord, len(recs)),
	}
	for i, r := range recs {
		ev.Records[i] = events.KinesisFirehoseEventRecord{RecordID: strconv.Itoa(i), Data: r.Data,
			ApproximateArrivalTimestamp: events.MilliSecondsEpochTime{Time: r.ArrivalTime}}
	}
	all := func(code, msg string) ([]handover.Record, []*route) {
		rt := processingFailed(code, msg)
		f := make([]*route, len(recs))
		for i := range f {
			f[i] = rt
		}
		return recs, f
	}
	retries := d.opts.TransformRetries
	if retries == 0 {
		retries = defaultTransformRetry
	}
	var resp []byte
	var err error
	for attempt := 0; attempt <= max(retries, 0); attempt++ {
		ev.InvocationID = fmt.Sprintf("%s-%d-%d", d.cc.cfg.Name, d.clk.Now().UnixNano(), attempt)
		payload, merr := json.Marshal(ev)
		if merr != nil {
			return all(codeFunctionError, merr.Error())
		}
		if resp, err = d.opts.Transform(ctx, payload); err == nil {
			break
		}
		d.log.Warn("transformation function failed", "attempt", attempt+1, "err", err)
	}
	if err != nil {
		return all(codeFunctionError, err.Error())
	}
	var r events.KinesisFirehoseResponse
	if err := json.Unmarshal(resp, &r); err != nil {
		return all(codeBadResponse, fmt.Sprintf("the function's response is not a Firehose transformation response: %v", err))
	}
	got := make([]*events.KinesisFirehoseResponseRecord, len(recs))
	for k := range r.Records {
		rr := &r.Records[k]
		i, err := strconv.Atoi(rr.RecordID)
		if err != nil || i < 0 || i >= len(recs) {
			return all(codeBadResponse, fmt.Sprintf("the response holds an unknown recordId %q", rr.RecordID))
		}
		if got[i] != nil {
			return all(codeDuplicateRecordID, fmt.Sprintf("recordId %q is returned twice", rr.RecordID))
		}
		got[i] = rr
	}
	var out []handover.Record
	var failed []*route
	for i, rec := range recs {
		rr := got[i]
		switch {
		case rr == nil:
			out, failed = append(out, rec), append(failed, processingFailed(codeMissingRecordID, fmt.Sprintf("recordId %d is missing from the response", i)))
		case rr.Result == events.KinesisFirehoseTransformedStateOk:
			keys := rec.PartitionKeys
			if len(rr.Metadata.PartitionKeys) > 0 {
				keys = rr.Metadata.PartitionKeys
			}
			out = append(out, handover.Record{Data: rr.Data, PartitionKeys: keys, ArrivalTime: rec.ArrivalTime})
			failed = append(failed, nil)
		case rr.Result == events.KinesisFirehoseTransformedStateDropped:
			d.m.recordsDropped.Inc()
		case rr.Result == events.KinesisFirehoseTransformedStateProcessingFailed:
			out, failed = append(out, rec), append(failed, processingFailed(codeProcessingFailed, "The function marked the record ProcessingFailed"))
		default:
			out, failed = append(out, rec), append(failed, processingFailed(codeBadResult, fmt.Sprintf("result %q is not Ok, Dropped or ProcessingFailed", rr.Result)))
		}
	}
	return out, failed
}
