package firehose

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/handover"
)

// This file is what the delivery stream writes in its write-ahead log
// (wal.go frames and stores the entries): accepted batches with their
// routes, flush intents, flushes done and segment heads. Recovery
// (recover.go) reads them back.

// intentRec is the write-ahead-log record of a flush: the records of part
// with sequence numbers lo..hi (n of them) become object key.
type intentRec struct {
	Key    string `json:"key"`
	Part   string `json:"part"`
	Lo     uint64 `json:"lo"`
	Hi     uint64 `json:"hi"`
	N      int    `json:"n"`
	Bytes  int64  `json:"bytes"`
	Reason string `json:"reason"`
	// At is when the flush was decided (unix milliseconds), for the age
	// of pending objects; 0 in logs written before it existed.
	At int64 `json:"at,omitempty"`
	// Replaces and Fail are set on a reroute (see failure.go): this
	// object carries the records of object Replaces, which the
	// destination refused for good, to the error output.
	Replaces string   `json:"replaces,omitempty"`
	Fail     *failRec `json:"fail,omitempty"`
}

// headRec starts every segment, so that per-source checkpoints and the
// record sequence survive the deletion of the segments that first recorded
// them.
type headRec struct {
	Next        uint64            `json:"next"`
	Checkpoints map[string]string `json:"checkpoints"`
}

// doneRec is the write-ahead-log record of a flush written.
type doneRec struct {
	Key string `json:"key"`
}

// encodeBatch serialises a batch entry. It returns the payload, the offset
// of each record's data in it and the distinct routes.
func encodeBatch(firstSeq uint64, now time.Time, b handover.Batch, routes []*route) ([]byte, []int, []*route) {
	var table []*route
	idx := map[*route]int{}
	for _, rt := range routes {
		if _, ok := idx[rt]; !ok {
			idx[rt] = len(table)
			table = append(table, rt)
		}
	}
	size := 64 + len(b.Source.ID) + len(b.Source.Checkpoint)
	for _, r := range b.Records {
		size += len(r.Data) + 24
	}
	e := enc{b: make([]byte, 0, size)}
	e.uvarint(firstSeq)
	e.varint(now.UnixNano())
	e.str(b.Source.ID)
	e.str(b.Source.Checkpoint)
	e.uvarint(uint64(len(table)))
	for _, rt := range table {
		encodeRoute(&e, rt)
	}
	e.uvarint(uint64(len(b.Records)))
	offs := make([]int, len(b.Records))
	for i, r := range b.Records {
		e.uvarint(uint64(idx[routes[i]]))
		e.varint(r.ArrivalTime.UnixNano())
		offs[i] = e.bytes(r.Data)
	}
	return e.b, offs, table
}

// decodedBatch is a batch entry read back at recovery.
type decodedBatch struct {
	firstSeq   uint64
	accepted   int64
	source, cp string
	refs       []ref
}

func decodeBatch(e walEntry) (decodedBatch, error) {
	dc := dec{b: e.payload}
	var out decodedBatch
	out.firstSeq = dc.uvarint()
	out.accepted = dc.varint()
	out.source = dc.str()
	out.cp = dc.str()
	nr := dc.uvarint()
	if dc.err == nil && nr > uint64(len(e.payload)) {
		return out, errors.New("batch entry: route count runs past the entry")
	}
	table := make([]*route, 0, nr)
	for range nr {
		rt, err := decodeRoute(&dc)
		if err != nil {
			return out, fmt.Errorf("batch entry: %w", err)
		}
		rt.part = rt.partID()
		rt.endedMs = out.accepted / int64(time.Millisecond)
		table = append(table, rt)
	}
	n := dc.uvarint()
	if dc.err == nil && n > uint64(len(e.payload)) {
		return out, errors.New("batch entry: record count runs past the entry")
	}
	for i := range n {
		ri := dc.uvarint()
		arrival := dc.varint()
		data, off := dc.bytes()
		if dc.err != nil {
			break
		}
		if ri >= uint64(len(table)) {
			return out, errors.New("batch entry: record names a missing route")
		}
		out.refs = append(out.refs, ref{seg: e.seg, off: e.off + int64(off), n: uint32(len(data)), seq: out.firstSeq + i,
			arrival: arrival, accepted: out.accepted, rt: table[ri]})
	}
	if dc.err != nil {
		return out, fmt.Errorf("batch entry: %w", dc.err)
	}
	return out, nil
}
