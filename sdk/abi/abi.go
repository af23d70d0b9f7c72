// Package abi is the wire format between the Sluice host and a WASM function
// (docs/wasm-abi.md, version 1): the request header, a compact binary layout
// for a batch of Kinesis records and one for a stream response. It is plain
// Go with no reflection so that a Go guest compiled to WASM decodes a batch
// in microseconds, and it is shared by the host (encode) and the sdk
// (decode), so both sides agree by construction.
//
// All integers are little-endian. A byte string is a u32 length followed by
// the bytes; the length NilLen (0xFFFFFFFF) encodes a nil slice, so nil and
// empty survive the round trip (they marshal differently to JSON).
package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/aws/aws-lambda-go/events"
)

// Version is the ABI version a guest reports from sluice_abi_version.
const Version = 1

// Feature bits a guest reports from sluice_features (called after
// sluice_main).
const (
	// FeatureKinesisBatch: the guest accepts KindKinesis requests. Without
	// it the host sends every event as JSON.
	FeatureKinesisBatch = 1 << 0
)

// Request kinds (the first byte of a request).
const (
	KindJSON    = 0 // body is the raw Lambda payload (any JSON)
	KindKinesis = 1 // body is a binary Kinesis batch (EncodeKinesis)
)

// Response tags (the first byte of a response).
const (
	TagJSON     = 0 // body is the handler's JSON response
	TagStream   = 1 // body is a binary stream response (EncodeStream)
	TagError    = 2 // body is Lambda's error document {"errorMessage","errorType","stackTrace"}
	TagNotFound = 3 // the guest has no handler (main never called Start); body is a message
)

// NilLen is the length that encodes a nil byte string.
const NilLen = math.MaxUint32

// ErrShort means a buffer ended inside a field.
var ErrShort = errors.New("abi: buffer too short")

// Header is the per-invocation Lambda context that precedes every body.
type Header struct {
	Kind        byte
	RequestID   string
	FunctionARN string
	// DeadlineMs is the invocation deadline in Unix milliseconds (what
	// Lambda-Runtime-Deadline-Ms carries).
	DeadlineMs int64
}

// AppendHeader appends the request header to b.
func AppendHeader(b []byte, h Header) []byte {
	b = append(b, h.Kind)
	b = appendString(b, h.RequestID)
	b = appendString(b, h.FunctionARN)
	return binary.LittleEndian.AppendUint64(b, uint64(h.DeadlineMs))
}

// DecodeHeader reads a request header and returns the body that follows.
// Like DecodeKinesis its strings alias b.
func DecodeHeader(b []byte) (Header, []byte, error) {
	r := reader{b: b}
	var h Header
	h.Kind = r.byte()
	h.RequestID = r.aliasString()
	h.FunctionARN = r.aliasString()
	h.DeadlineMs = int64(r.u64())
	if r.err != nil {
		return Header{}, nil, fmt.Errorf("request header: %w", r.err)
	}
	return h, r.b[r.off:], nil
}

// Batch-level fields every record of a Kinesis batch shares; the host
// checks this before choosing the binary layout (CanEncodeKinesis).
type shared struct {
	eventSource, eventVersion, eventName, invokeIdentityArn, awsRegion, eventSourceArn, schemaVersion, encryptionType string
}

func sharedOf(r *events.KinesisEventRecord) shared {
	return shared{r.EventSource, r.EventVersion, r.EventName, r.InvokeIdentityArn, r.AwsRegion, r.EventSourceArn, r.Kinesis.KinesisSchemaVersion, r.Kinesis.EncryptionType}
}

// CanEncodeKinesis reports whether e fits the binary batch layout: at least
// one record, and every record agrees on the batch-level fields (event
// source, region, stream ARN, ...), as every batch of one shard does.
func CanEncodeKinesis(e *events.KinesisEvent) bool {
	if len(e.Records) == 0 {
		return false
	}
	first := sharedOf(&e.Records[0])
	for i := 1; i < len(e.Records); i++ {
		if sharedOf(&e.Records[i]) != first {
			return false
		}
	}
	return true
}

// AppendKinesis appends the binary layout of a Kinesis batch to b:
//
//	u32 count
//	8 strings: eventSource eventVersion eventName invokeIdentityArn awsRegion eventSourceARN kinesisSchemaVersion encryptionType
//	count × { eventID partitionKey sequenceNumber (strings), i64 arrival Unix nanoseconds, data (bytes) }
//
// The caller checks CanEncodeKinesis first.
func AppendKinesis(b []byte, e *events.KinesisEvent) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Records)))
	if len(e.Records) == 0 {
		return b
	}
	s := sharedOf(&e.Records[0])
	for _, v := range []string{s.eventSource, s.eventVersion, s.eventName, s.invokeIdentityArn, s.awsRegion, s.eventSourceArn, s.schemaVersion, s.encryptionType} {
		b = appendString(b, v)
	}
	for i := range e.Records {
		r := &e.Records[i]
		b = appendString(b, r.EventID)
		b = appendString(b, r.Kinesis.PartitionKey)
		b = appendString(b, r.Kinesis.SequenceNumber)
		var ns int64
		if t := r.Kinesis.ApproximateArrivalTimestamp.Time; !t.IsZero() {
			ns = t.UnixNano()
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(ns))
		b = appendBytes(b, r.Kinesis.Data)
	}
	return b
}

// DecodeKinesis decodes a batch written by AppendKinesis. Record data and
// every string alias b (no copy, no allocation per record): b must not
// change while the event is in use. The guest owns a private copy of each
// request for exactly this reason; allocating three strings per record cost
// more than the rest of the decode in a Go guest.
func DecodeKinesis(b []byte) (events.KinesisEvent, error) {
	r := reader{b: b}
	n := r.u32()
	if r.err != nil {
		return events.KinesisEvent{}, fmt.Errorf("kinesis batch: %w", r.err)
	}
	if n == 0 {
		return events.KinesisEvent{}, nil
	}
	// Each record takes at least 24 bytes; refuse counts the buffer cannot
	// hold before allocating for them.
	if uint64(n)*24 > uint64(len(b)-r.off) {
		return events.KinesisEvent{}, fmt.Errorf("kinesis batch: %d records cannot fit in %d bytes", n, len(b))
	}
	var s [8]string
	for i := range s {
		s[i] = r.aliasString()
	}
	if r.err != nil {
		return events.KinesisEvent{}, fmt.Errorf("kinesis batch: %w", r.err)
	}
	// Every record starts as a copy of one with the batch-level fields
	// set: one block copy instead of eight string stores (each with its
	// write-barrier check) per record.
	var tmpl events.KinesisEventRecord
	tmpl.EventSource, tmpl.EventVersion, tmpl.EventName, tmpl.InvokeIdentityArn = s[0], s[1], s[2], s[3]
	tmpl.AwsRegion, tmpl.EventSourceArn = s[4], s[5]
	tmpl.Kinesis.KinesisSchemaVersion, tmpl.Kinesis.EncryptionType = s[6], s[7]
	e := events.KinesisEvent{Records: make([]events.KinesisEventRecord, n)}
	off := r.off
	for i := range e.Records {
		rec := &e.Records[i]
		*rec = tmpl
		// The fields are read inline rather than through reader's
		// methods: in a guest with hard timeouts every function call and
		// every taken branch costs an exit from WASM to the host (see
		// runtime/wasm/RATIONALE.md), and this loop runs once per record.
		a, z, ok := field(b, off)
		if ok {
			rec.EventID = unsafe.String(unsafe.SliceData(b[a:]), z-a)
			if a, z, ok = field(b, z); ok {
				rec.Kinesis.PartitionKey = unsafe.String(unsafe.SliceData(b[a:]), z-a)
				if a, z, ok = field(b, z); ok {
					rec.Kinesis.SequenceNumber = unsafe.String(unsafe.SliceData(b[a:]), z-a)
					ok = len(b)-z >= 8
				}
			}
		}
		if !ok {
			return events.KinesisEvent{}, fmt.Errorf("kinesis batch record %d: %w", i, ErrShort)
		}
		if ns := int64(binary.LittleEndian.Uint64(b[z:])); ns != 0 {
			rec.Kinesis.ApproximateArrivalTimestamp = events.SecondsEpochTime{Time: time.Unix(0, ns)}
		}
		d := z + 8
		if a, z, ok = field(b, d); ok {
			rec.Kinesis.Data = b[a:z:z]
		} else if len(b)-d >= 4 && binary.LittleEndian.Uint32(b[d:]) == NilLen {
			z = d + 4 // nil data
		} else {
			return events.KinesisEvent{}, fmt.Errorf("kinesis batch record %d: %w", i, ErrShort)
		}
		off = z
	}
	return e, nil
}

// Failure is one batchItemFailures entry.
type Failure = events.KinesisBatchItemFailure

// Record is one output record: what sdk.OutputRecord holds.
type Record struct {
	Data          []byte
	PartitionKeys map[string]string
}

// AppendStream appends the binary layout of a stream response:
//
//	u32 failure count (NilLen: nil) × itemIdentifier (string)
//	u32 record count × { data (bytes), u32 key count × { key, value (strings) } }
func AppendStream(b []byte, failures []Failure, records []Record) []byte {
	if failures == nil {
		b = binary.LittleEndian.AppendUint32(b, NilLen)
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(failures)))
		for _, f := range failures {
			b = appendString(b, f.ItemIdentifier)
		}
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(records)))
	for _, r := range records {
		b = appendBytes(b, r.Data)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r.PartitionKeys)))
		for k, v := range r.PartitionKeys {
			b = appendString(b, k)
			b = appendString(b, v)
		}
	}
	return b
}

// DecodeStream decodes a response written by AppendStream. Data slices are
// copied: the host's view of guest memory is only valid until the next call.
func DecodeStream(b []byte) ([]Failure, []Record, error) {
	r := reader{b: b}
	var failures []Failure
	if n := r.u32(); n != NilLen && r.err == nil {
		if uint64(n)*4 > uint64(len(b)-r.off) {
			return nil, nil, fmt.Errorf("stream response: %d failures cannot fit in %d bytes", n, len(b))
		}
		failures = make([]Failure, n)
		for i := range failures {
			failures[i].ItemIdentifier = r.string()
		}
	}
	n := r.u32()
	if r.err != nil {
		return nil, nil, fmt.Errorf("stream response: %w", r.err)
	}
	if uint64(n)*8 > uint64(len(b)-r.off) {
		return nil, nil, fmt.Errorf("stream response: %d records cannot fit in %d bytes", n, len(b))
	}
	var records []Record
	if n > 0 {
		records = make([]Record, n)
	}
	for i := range records {
		if d := r.bytes(); d != nil {
			records[i].Data = append([]byte{}, d...)
		}
		k := r.u32()
		if r.err != nil {
			break
		}
		if uint64(k)*8 > uint64(len(b)-r.off) {
			return nil, nil, fmt.Errorf("stream response record %d: %d partition keys cannot fit in %d bytes", i, k, len(b))
		}
		if k > 0 {
			records[i].PartitionKeys = make(map[string]string, k)
			for range k {
				key := r.string()
				records[i].PartitionKeys[key] = r.string()
			}
		}
	}
	if r.err != nil {
		return nil, nil, fmt.Errorf("stream response: %w", r.err)
	}
	return failures, records, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return binary.LittleEndian.AppendUint32(b, NilLen)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// reader decodes fields in order and remembers the first error, so callers
// check once per record instead of once per field.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = ErrShort
		return false
	}
	return true
}

func (r *reader) byte() byte {
	if !r.need(1) {
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *reader) bytes() []byte {
	n := r.u32()
	if r.err != nil || n == NilLen {
		return nil
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		r.err = ErrShort
		return nil
	}
	v := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return v
}

// field returns the bounds [start, end) of the length-prefixed string at
// b[off:]; ok is false if b ends inside it or it is the nil marker. Small
// enough to inline.
func field(b []byte, off int) (start, end int, ok bool) {
	if len(b)-off < 4 {
		return 0, 0, false
	}
	n := uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16 | uint32(b[off+3])<<24
	start = off + 4
	if uint64(n) > uint64(len(b)-start) {
		return 0, 0, false
	}
	return start, start + int(n), true
}

// aliasString is string without the copy: the result shares r.b's memory.
func (r *reader) aliasString() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if n == NilLen || uint64(n) > uint64(len(r.b)-r.off) {
		r.err = ErrShort
		return ""
	}
	s := unsafe.String(unsafe.SliceData(r.b[r.off:]), int(n))
	r.off += int(n)
	return s
}

func (r *reader) string() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if n == NilLen || uint64(n) > uint64(len(r.b)-r.off) {
		r.err = ErrShort
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}
