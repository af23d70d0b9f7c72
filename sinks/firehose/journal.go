package firehose

import (
	"fmt"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/handover"
)

// journal is the delivery stream's side of its write-ahead log: it appends
// the entries, hands out record sequence numbers, keeps the source
// checkpoints, and knows which segments still hold something undelivered
// so that gc can delete the others.
//
// Its lock is held across every append. Sequence numbers therefore follow
// log order, and the head entry the log writes when it starts a segment
// (headPayload, called by the log inside an append) sees the sequence and
// checkpoints of exactly the entries before it. The lock is a leaf: code
// holding it calls nothing that takes another of the stream's locks.
type journal struct {
	w        *wal
	segSize  int64 // Options.SegmentSize
	maxBytes int64 // Options.MaxLogBytes; 0: no cap

	mu          sync.Mutex
	nextSeq     uint64
	appendedCps map[string]string  // source → the last checkpoint appended
	cps         map[string]cpState // source → the last checkpoint made durable
	segs        []uint64           // segments on disk, ascending
	segLive     map[uint64]int     // segment → undelivered records and unfinished intents in it
	lastLSN     uint64

	gcMu sync.Mutex // one gc at a time
}

// cpState is a durable checkpoint and the log position of its batch.
type cpState struct {
	cp  string
	lsn uint64
}

func newJournal(segSize, maxBytes int64) *journal {
	return &journal{segSize: segSize, maxBytes: maxBytes, appendedCps: map[string]string{},
		cps: map[string]cpState{}, segLive: map[uint64]int{}}
}

// headPayload is written at the start of every segment. The log calls it
// inside an append, with j.mu held (or before the stream is shared).
func (j *journal) headPayload() []byte {
	return encodeHead(headRec{Next: j.nextSeq, Checkpoints: j.appendedCps})
}

// appendBatch logs a batch and its routes (not yet synced). It returns
// where the entry is, the sequence number of its first record, the offset
// of each record's data in the entry and the distinct routes. It refuses
// the batch with ErrLogFull when the log has reached MaxLogBytes.
func (j *journal) appendBatch(now time.Time, b handover.Batch, routes []*route) (walPos, uint64, []int, []*route, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.maxBytes > 0 && int64(len(j.segs))*j.segSize >= j.maxBytes {
		return walPos{}, 0, nil, nil, fmt.Errorf("%w (%d segments of %d bytes)", ErrLogFull, len(j.segs), j.segSize)
	}
	first := j.nextSeq
	payload, dataOff, table := encodeBatch(first, now, b, routes)
	pos, err := j.w.append(entryBatch, payload)
	if err != nil {
		return walPos{}, 0, nil, nil, err
	}
	j.noteAppendLocked(pos)
	j.nextSeq += uint64(len(b.Records))
	j.segLive[pos.seg] += len(b.Records)
	if b.Source.Checkpoint != "" {
		j.appendedCps[b.Source.ID] = b.Source.Checkpoint
	}
	return pos, first, dataOff, table, nil
}

// appendIntent logs a flush intent (not yet synced: a flush syncs before
// it writes). For a reroute, replaced is the intent the new one resolves.
func (j *journal) appendIntent(in intentRec, replaced *walPos) (walPos, error) {
	payload := encodeIntent(in)
	j.mu.Lock()
	defer j.mu.Unlock()
	pos, err := j.w.append(entryIntent, payload)
	if err != nil {
		return walPos{}, err
	}
	j.noteAppendLocked(pos)
	j.segLive[pos.seg]++
	if replaced != nil {
		j.segLive[replaced.seg]--
	}
	return pos, nil
}

// appendDone logs a flush as written and releases the segments under its
// records and intent. A failed append means the log is poisoned; replay
// then rewrites the same object, harmlessly.
func (j *journal) appendDone(jb *job) {
	done := encodeDone(doneRec{Key: jb.Key})
	j.mu.Lock()
	defer j.mu.Unlock()
	if pos, err := j.w.append(entryDone, done); err == nil {
		j.noteAppendLocked(pos)
	}
	for _, r := range jb.refs {
		j.segLive[r.seg]--
	}
	j.segLive[jb.pos.seg]--
}

// noteAppendLocked tracks the segments the log has written to.
func (j *journal) noteAppendLocked(pos walPos) {
	j.lastLSN = pos.lsn
	if n := len(j.segs); n == 0 || j.segs[n-1] < pos.seg {
		j.segs = append(j.segs, pos.seg)
	}
}

// sync makes the log durable up to lsn.
func (j *journal) sync(lsn uint64) error { return j.w.sync(lsn) }

// confirm records a checkpoint whose batch, at lsn, is durable.
func (j *journal) confirm(source, cp string, lsn uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if cur := j.cps[source]; cur.lsn < lsn {
		j.cps[source] = cpState{cp: cp, lsn: lsn}
	}
}

// checkpoint returns the last checkpoint durably accepted for source.
func (j *journal) checkpoint(source string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cps[source].cp
}

// gc deletes write-ahead-log segments, oldest first, while the oldest one
// holds nothing undelivered. Deleting only from the front keeps a simple
// invariant for recovery: if a flush's intent is gone, so are its records.
func (j *journal) gc() error {
	j.gcMu.Lock()
	defer j.gcMu.Unlock()
	j.mu.Lock()
	var drop []uint64
	active := j.w.active()
	for len(j.segs) > 0 && j.segs[0] != active && j.segLive[j.segs[0]] <= 0 {
		drop = append(drop, j.segs[0])
		delete(j.segLive, j.segs[0])
		j.segs = j.segs[1:]
	}
	lsn := j.lastLSN
	j.mu.Unlock()
	if len(drop) == 0 {
		return nil
	}
	// The done entries that released these segments must be durable first.
	if err := j.w.sync(lsn); err != nil {
		return err
	}
	for _, s := range drop {
		if err := j.w.remove(s); err != nil {
			return err
		}
	}
	return nil
}

// abandon stops the log the way a crash would: nothing buffered in its
// writer reaches the disk and no further entry is written.
func (j *journal) abandon() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.w.abandon()
}

func (j *journal) close() error { return j.w.close() }
