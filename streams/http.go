package streams

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/sluice-dev/sluice/internal/frontdoor"
)

// The Kinesis AWS JSON 1.1 and CBOR 1.1 API (docs/semantics.md, "Kinesis wire
// protocol"): POST / with X-Amz-Target: Kinesis_20131202.<Operation>; the
// answer is in the request's encoding. SigV4 signatures are accepted
// unverified (the embedded stream listens on loopback for local tools) unless
// Options.Credentials is set (see sigv4.go). Bodies are read as they arrive
// under a budget of in-flight bytes (internal/frontdoor), or taken from the
// router that already read them.

const (
	targetPrefix = "Kinesis_20131202."
	// MaxRequestBody is read in full so a request over the API's 5 MiB
	// PutRecords limit still gets the API's error rather than a
	// connection reset.
	MaxRequestBody = 11 << 20
	maxBody        = MaxRequestBody
)

// Handler returns the Kinesis HTTP API.
func (e *Engine) Handler() http.Handler { return &httpAPI{e: e} }

type httpAPI struct {
	e     *Engine
	reqID atomic.Uint64
}

// operation decodes a request with c, runs it and returns the SDK output.
type operation func(ctx context.Context, e *Engine, c codec, body []byte) (any, error)

// op adapts an engine method on SDK types to an operation.
func op[In any, Out any](f func(e *Engine, ctx context.Context, in *In) (*Out, error)) operation {
	return func(ctx context.Context, e *Engine, c codec, body []byte) (any, error) {
		in := new(In)
		if err := c.decode(body, in); err != nil {
			return nil, &smithy.GenericAPIError{Code: "SerializationException", Message: "failed to decode request: " + err.Error(), Fault: smithy.FaultClient}
		}
		return f(e, ctx, in)
	}
}

var operations = map[string]operation{
	"CreateStream":          op((*Engine).createStreamAPI),
	"DeleteStream":          op((*Engine).deleteStreamAPI),
	"DescribeStream":        op((*Engine).describeStream),
	"DescribeStreamSummary": op((*Engine).describeStreamSummary),
	"DescribeLimits":        op((*Engine).describeLimits),
	"ListStreams":           op((*Engine).listStreams),
	"ListShards":            op((*Engine).listShards),
	"PutRecord":             op((*Engine).putRecord),
	"PutRecords":            op((*Engine).putRecords),
	"GetShardIterator":      op((*Engine).getShardIterator),
	"GetRecords":            op((*Engine).getRecords),
	"IncreaseStreamRetentionPeriod": op(func(e *Engine, ctx context.Context, in *kinesis.IncreaseStreamRetentionPeriodInput) (*kinesis.IncreaseStreamRetentionPeriodOutput, error) {
		return &kinesis.IncreaseStreamRetentionPeriodOutput{}, e.changeRetention(in.StreamName, in.StreamARN, in.RetentionPeriodHours, true)
	}),
	"DecreaseStreamRetentionPeriod": op(func(e *Engine, ctx context.Context, in *kinesis.DecreaseStreamRetentionPeriodInput) (*kinesis.DecreaseStreamRetentionPeriodOutput, error) {
		return &kinesis.DecreaseStreamRetentionPeriodOutput{}, e.changeRetention(in.StreamName, in.StreamARN, in.RetentionPeriodHours, false)
	}),
	"AddTagsToStream":      op((*Engine).addTags),
	"RemoveTagsFromStream": op((*Engine).removeTags),
	"ListTagsForStream":    op((*Engine).listTags),
	"SplitShard":           op((*Engine).splitShard),
	"MergeShards":          op((*Engine).mergeShards),
	"UpdateShardCount":     op((*Engine).updateShardCount),
	"UpdateStreamMode":     op((*Engine).updateStreamMode),

	"RegisterStreamConsumer":   op((*Engine).registerConsumer),
	"DescribeStreamConsumer":   op((*Engine).describeConsumer),
	"ListStreamConsumers":      op((*Engine).listConsumers),
	"DeregisterStreamConsumer": op((*Engine).deregisterConsumer),
	// SubscribeToShard streams its answer; ServeHTTP dispatches it.
	"SubscribeToShard": nil,
}

// standaloneBudget bounds the request bytes held by Kinesis handlers
// served on their own (SDKClient's port, embedders, tests). Behind Sluice's
// API port the router reads bodies under the process's budget instead and
// stashes them for the handler.
var standaloneBudget = frontdoor.NewBudget(256<<20, frontdoor.DefaultInflightWait)

// readBody returns the request's body: the one a router read and stashed
// (own false: the router releases it), or one read here (own true). The
// signature is verified over it when credentials are configured and the
// router did not.
func (a *httpAPI) readBody(r *http.Request) (b *frontdoor.Body, own bool, err error) {
	if s := frontdoor.StashedBody(r); s != nil {
		if s.Err != nil {
			return nil, false, s.Err
		}
		if !s.Verified {
			err = a.verify(r, s.Body.Bytes())
		}
		return s.Body, false, err
	}
	if b, err = frontdoor.ReadBody(r, maxBody, standaloneBudget); err != nil {
		return nil, false, err
	}
	if err = a.verify(r, b.Bytes()); err != nil {
		b.Release()
		return nil, false, err
	}
	return b, true, nil
}

// writeBodyErr answers a body that was refused before any operation ran.
func (a *httpAPI) writeBodyErr(w http.ResponseWriter, c codec, err error) {
	var se *frontdoor.SigError
	switch {
	case errors.As(err, &se):
		a.writeError(w, c, se.Status, se.Code, se.Message)
	case errors.Is(err, frontdoor.ErrTooLarge):
		a.writeError(w, c, http.StatusRequestEntityTooLarge, "InvalidArgumentException", "Request body exceeds the maximum size of 11 MiB.")
	case errors.Is(err, frontdoor.ErrBusy):
		a.writeError(w, c, http.StatusServiceUnavailable, "ServiceUnavailable", "Service unavailable: "+err.Error()+".")
	default:
		a.writeError(w, c, http.StatusBadRequest, "SerializationException", err.Error())
	}
}

// respPool recycles answer buffers: a PutRecords answer is ~50 KB, built
// and dropped per call. Buffers over maxPooledResp (large GetRecords
// answers) are left to the GC.
var respPool = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledResp = 1 << 20

func codecFor(contentType string) codec {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/x-amz-json-1.1", "application/json", "":
		return jsonCodec{}
	case cborContentType:
		return cborCodec{}
	}
	return nil
}

func (a *httpAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strconv.FormatUint(a.reqID.Add(1), 16)
	w.Header().Set("x-amzn-RequestId", id)
	c := codecFor(r.Header.Get("Content-Type"))
	// The body (and its signature) first: nothing else is answered to a
	// request that is refused.
	b, own, err := a.readBody(r)
	if own {
		defer b.Release()
	}
	if err != nil {
		ec := c
		if ec == nil {
			ec = jsonCodec{}
		}
		a.writeBodyErr(w, ec, err)
		return
	}
	if c == nil {
		// Answer in JSON: we do not speak the requested encoding.
		a.writeError(w, jsonCodec{}, http.StatusBadRequest, "UnknownOperationException", "unsupported content type "+frontdoor.Quote(r.Header.Get("Content-Type")))
		return
	}
	if r.Method != http.MethodPost {
		a.writeError(w, c, http.StatusBadRequest, "UnknownOperationException", "the Kinesis API takes POST requests")
		return
	}
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	f, known := operations[name]
	if !ok || !known {
		a.writeError(w, c, http.StatusBadRequest, "UnknownOperationException", "unknown operation "+frontdoor.Quote(r.Header.Get("X-Amz-Target")))
		return
	}
	body := b.Bytes()
	if f == nil {
		// A subscription lasts minutes: keep its few request bytes, not
		// the pooled buffer and budget they came in.
		in := append([]byte(nil), body...)
		b.Release()
		a.subscribeToShard(w, r, c, in)
		return
	}
	spec := wireSpecs[name]
	if _, isJSON := c.(jsonCodec); !isJSON {
		spec = nil
	}
	if spec != nil && !hotOps[name] {
		// The service's own request checks come first (wire.go).
		nb, err := checkWire(spec, body)
		if err != nil {
			a.writeErr(w, c, err)
			return
		}
		if nb != nil {
			body = nb
		}
	}
	out, err := f(r.Context(), a.e, c, body)
	if err != nil && spec != nil && hotOps[name] {
		// A failed data-plane call: answer what the service's request
		// checks say, if they object; retry once if the body only needed
		// its numbers read the service's way.
		if nb, werr := checkWire(spec, body); werr != nil {
			err = werr
		} else if nb != nil {
			out, err = f(r.Context(), a.e, c, nb)
		}
	}
	if err != nil {
		a.writeErr(w, c, err)
		return
	}
	rb := respPool.Get().(*[]byte)
	resp, err := c.encode((*rb)[:0], out)
	if err != nil {
		a.writeErr(w, c, errInternal(err))
		return
	}
	if _, isJSON := c.(jsonCodec); isJSON && string(resp) == "{}" {
		// An output without members is an empty body, as the service
		// sends it (CreateStream, DeleteStream, AddTagsToStream, ...).
		resp = resp[:0]
	}
	w.Header().Set("Content-Type", c.contentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.Write(resp) // copies or sends resp before returning
	if cap(resp) <= maxPooledResp {
		*rb = resp[:0]
		respPool.Put(rb)
	}
}

func (a *httpAPI) writeErr(w http.ResponseWriter, c codec, err error) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		status := http.StatusBadRequest
		if ae.ErrorFault() == smithy.FaultServer {
			status = http.StatusInternalServerError
		}
		var hs interface{ httpStatus() int }
		if errors.As(err, &hs) {
			status = hs.httpStatus()
		}
		a.writeError(w, c, status, ae.ErrorCode(), ae.ErrorMessage())
		return
	}
	a.e.log.Error("kinesis api", "err", err)
	a.writeError(w, c, http.StatusInternalServerError, "InternalFailure", err.Error())
}

// writeError answers an error in the request's encoding. The message is
// capped (frontdoor.CapMessage): it may quote what the client sent.
func (a *httpAPI) writeError(w http.ResponseWriter, c codec, status int, code, msg string) {
	b := c.encodeError(nil, code, frontdoor.CapMessage(msg))
	w.Header().Set("Content-Type", c.contentType())
	w.Header().Set("x-amzn-ErrorType", code)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
