// Package api serves the Amazon Data Firehose API (AWS JSON 1.1,
// X-Amz-Target: Firehose_20150804.<Operation>) over a set of open delivery
// streams, so producers, the aws CLI and Lambda-built handlers that call
// PutRecord / PutRecordBatch can write to Sluice's delivery streams.
//
// Implemented: PutRecord, PutRecordBatch, DescribeDeliveryStream,
// ListDeliveryStreams. Delivery streams come from the template, so the
// control-plane calls that change them (Create, Delete, UpdateDestination,
// tagging, encryption) answer InvalidArgumentException.
//
// A put is answered only after the delivery stream's write-ahead log holds
// the records (Accept), so an acknowledged record survives a crash.
package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/handover"
	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/internal/frontdoor"
	"github.com/sluice-dev/sluice/sinks/firehose"
)

// TargetPrefix is the X-Amz-Target prefix of every Firehose operation.
const TargetPrefix = "Firehose_20150804."

// Limits of the Direct PUT API (docs/semantics.md, "Firehose Direct PUT
// limits").
const (
	MaxRecordSize   = 1_024_000
	MaxBatchRecords = 500
	MaxBatchBytes   = 4 << 20
	// MaxRequestBody is the largest body read: a 4 MiB batch in base64,
	// with room for JSON.
	MaxRequestBody = 8 << 20
)

// Stream is one delivery stream as the API sees it.
type Stream struct {
	// DS receives the records.
	DS *firehose.DeliveryStream
	// SourceStreamARN is set for KinesisStreamAsSource streams, which
	// refuse direct puts.
	SourceStreamARN string
	// RoleARN is echoed by DescribeDeliveryStream.
	RoleARN string
	// Created is the CreateTimestamp (when Sluice opened the stream).
	Created time.Time
}

// Handler serves the API. Its set of streams is fixed at construction.
type Handler struct {
	region, account string
	streams         map[string]Stream
	now             func() time.Time // arrival time of the records put
}

// New returns a handler for streams (by DeliveryStreamName) in the given
// region and account (used in ARNs and messages).
func New(region, account string, streams map[string]Stream) *Handler {
	return &Handler{region: region, account: account, streams: streams, now: clock.Real().Now}
}

// apiError is an AWS JSON error.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The body (and its signature, checked by the router) first: nothing
	// else is answered to a request that is refused.
	b, own, err := readBody(r)
	if own {
		defer b.Release()
	}
	if err != nil {
		writeError(w, bodyError(err))
		return
	}
	body := b.Bytes()
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	if !ok || r.Method != http.MethodPost {
		writeError(w, errorf(http.StatusBadRequest, "UnknownOperationException", "unknown operation %q", frontdoor.Quote(r.Header.Get("X-Amz-Target"))))
		return
	}
	var out any
	switch op {
	case "PutRecord":
		out, err = h.putRecord(r, body)
	case "PutRecordBatch":
		out, err = h.putRecordBatch(r, body)
	case "DescribeDeliveryStream":
		out, err = h.describe(body)
	case "ListDeliveryStreams":
		out, err = h.list(body)
	case "CreateDeliveryStream", "DeleteDeliveryStream", "UpdateDestination", "TagDeliveryStream",
		"UntagDeliveryStream", "ListTagsForDeliveryStream", "StartDeliveryStreamEncryption", "StopDeliveryStreamEncryption":
		err = errorf(http.StatusBadRequest, "InvalidArgumentException", "%s is not supported: Sluice's delivery streams come from the template", frontdoor.Quote(op))
	default:
		err = errorf(http.StatusBadRequest, "UnknownOperationException", "unknown operation %s", frontdoor.Quote(op))
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = errorf(http.StatusInternalServerError, "ServiceUnavailableException", "%v", err)
		}
		writeError(w, ae)
		return
	}
	resp, err := json.Marshal(out)
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, "InternalFailure", "encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.Write(resp)
}

// writeError answers an AWS JSON error. The message is capped
// (frontdoor.CapMessage): it may quote what the client sent.
func writeError(w http.ResponseWriter, e *apiError) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.code, frontdoor.CapMessage(e.msg)})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-ErrorType", e.code)
	w.WriteHeader(e.status)
	w.Write(b)
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(http.StatusBadRequest, "SerializationException", "%v", err)
	}
	return nil
}

type record struct {
	Data []byte `json:"Data"` // base64 on the wire
}

// stream finds a delivery stream that accepts direct puts.
func (h *Handler) stream(name string, put bool) (Stream, error) {
	s, ok := h.streams[name]
	if !ok {
		return s, errorf(http.StatusBadRequest, "ResourceNotFoundException", "Firehose %s under account %s not found.", frontdoor.Quote(name), h.account)
	}
	if put && s.SourceStreamARN != "" {
		return s, errorf(http.StatusBadRequest, "InvalidArgumentException", "This operation is not permitted on KinesisStreamAsSource delivery stream type.")
	}
	return s, nil
}

func recordID() string {
	var b [28]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (h *Handler) putRecord(r *http.Request, body []byte) (any, error) {
	var in struct {
		DeliveryStreamName string
		Record             *record
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Record == nil {
		return nil, errorf(http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'record' failed to satisfy constraint: Member must not be null")
	}
	s, err := h.stream(in.DeliveryStreamName, true)
	if err != nil {
		return nil, err
	}
	if len(in.Record.Data) > MaxRecordSize {
		return nil, errorf(http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'record.data' failed to satisfy constraint: Member must have length less than or equal to %d", MaxRecordSize)
	}
	if err := s.DS.Accept(r.Context(), handover.Batch{Source: handover.Source{ID: "api"},
		Records: []handover.Record{{Data: in.Record.Data, ArrivalTime: h.now()}}}); err != nil {
		return nil, errorf(http.StatusServiceUnavailable, "ServiceUnavailableException", "%v", err)
	}
	return struct {
		RecordId  string
		Encrypted bool
	}{recordID(), false}, nil
}

type putResult struct {
	RecordId     string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

func (h *Handler) putRecordBatch(r *http.Request, body []byte) (any, error) {
	var in struct {
		DeliveryStreamName string
		Records            []record
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s, err := h.stream(in.DeliveryStreamName, true)
	if err != nil {
		return nil, err
	}
	switch {
	case len(in.Records) == 0 || len(in.Records) > MaxBatchRecords:
		return nil, errorf(http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and %d", MaxBatchRecords)
	}
	total := 0
	now := h.now()
	recs := make([]handover.Record, len(in.Records))
	for i, rec := range in.Records {
		if len(rec.Data) > MaxRecordSize {
			return nil, errorf(http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'records.%d.member.data' failed to satisfy constraint: Member must have length less than or equal to %d", i+1, MaxRecordSize)
		}
		total += len(rec.Data)
		recs[i] = handover.Record{Data: rec.Data, ArrivalTime: now}
	}
	if total > MaxBatchBytes {
		return nil, errorf(http.StatusBadRequest, "InvalidArgumentException", "Records size exceeds %d bytes", MaxBatchBytes)
	}
	// One Accept for the batch: all records are durable or none is, so a
	// failure reports every entry as failed and the caller resends them.
	out := struct {
		FailedPutCount   int
		Encrypted        bool
		RequestResponses []putResult
	}{RequestResponses: make([]putResult, len(recs))}
	if err := s.DS.Accept(r.Context(), handover.Batch{Source: handover.Source{ID: "api"}, Records: recs}); err != nil {
		out.FailedPutCount = len(recs)
		for i := range out.RequestResponses {
			out.RequestResponses[i] = putResult{ErrorCode: "ServiceUnavailableException", ErrorMessage: err.Error()}
		}
		return out, nil
	}
	for i := range out.RequestResponses {
		out.RequestResponses[i].RecordId = recordID()
	}
	return out, nil
}

func (h *Handler) arn(name string) string {
	return "arn:aws:firehose:" + h.region + ":" + h.account + ":deliverystream/" + name
}

func (h *Handler) describe(body []byte) (any, error) {
	var in struct{ DeliveryStreamName string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	s, err := h.stream(in.DeliveryStreamName, false)
	if err != nil {
		return nil, err
	}
	c := s.DS.Config()
	typ := "DirectPut"
	var source any
	if s.SourceStreamARN != "" {
		typ = "KinesisStreamAsSource"
		source = map[string]any{"KinesisStreamSourceDescription": map[string]any{
			"KinesisStreamARN": s.SourceStreamARN, "RoleARN": s.RoleARN, "DeliveryStartTimestamp": epoch(s.Created)}}
	}
	prefix, errPrefix := c.Prefix, c.ErrorOutputPrefix
	dest := map[string]any{
		"RoleARN":           s.RoleARN,
		"BucketARN":         "arn:aws:s3:::" + c.Bucket,
		"Prefix":            prefix,
		"ErrorOutputPrefix": errPrefix,
		"BufferingHints": map[string]any{
			"SizeInMBs":         c.BufferSize / firehose.MiB,
			"IntervalInSeconds": int64(c.BufferInterval / time.Second),
		},
		"CompressionFormat":                c.Compression,
		"EncryptionConfiguration":          map[string]any{"NoEncryptionConfig": "NoEncryption"},
		"DynamicPartitioningConfiguration": map[string]any{"Enabled": c.DynamicPartitioning},
	}
	if c.CustomTimeZone != "" {
		dest["CustomTimeZone"] = c.CustomTimeZone
	}
	if c.FileExtension != "" {
		dest["FileExtension"] = c.FileExtension
	}
	if c.Conversion != nil {
		dest["DataFormatConversionConfiguration"] = map[string]any{
			"Enabled": true,
			"SchemaConfiguration": map[string]any{
				"DatabaseName": c.Conversion.Table.DatabaseName, "TableName": c.Conversion.Table.TableName,
				"Region": c.Conversion.Table.Region, "RoleARN": s.RoleARN,
			},
		}
	}
	d := map[string]any{
		"DeliveryStreamName":   c.Name,
		"DeliveryStreamARN":    h.arn(c.Name),
		"DeliveryStreamStatus": "ACTIVE",
		"DeliveryStreamType":   typ,
		"VersionId":            "1",
		"CreateTimestamp":      epoch(s.Created),
		"Destinations": []any{map[string]any{
			"DestinationId":                    "destinationId-000000000001",
			"ExtendedS3DestinationDescription": dest,
		}},
		"HasMoreDestinations": false,
	}
	if source != nil {
		d["Source"] = source
	}
	return map[string]any{"DeliveryStreamDescription": d}, nil
}

// epoch renders a timestamp as AWS JSON does: seconds since the epoch.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (h *Handler) list(body []byte) (any, error) {
	var in struct {
		Limit                            *int
		DeliveryStreamType               string
		ExclusiveStartDeliveryStreamName string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	limit := 10
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 10000 {
			return nil, errorf(http.StatusBadRequest, "ValidationException", "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", *in.Limit)
		}
		limit = *in.Limit
	}
	var names []string
	for n, s := range h.streams {
		typ := "DirectPut"
		if s.SourceStreamARN != "" {
			typ = "KinesisStreamAsSource"
		}
		if in.DeliveryStreamType != "" && in.DeliveryStreamType != typ {
			continue
		}
		if n > in.ExclusiveStartDeliveryStreamName {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	more := len(names) > limit
	if more {
		names = names[:limit]
	}
	return struct {
		DeliveryStreamNames    []string
		HasMoreDeliveryStreams bool
	}{append([]string{}, names...), more}, nil
}
