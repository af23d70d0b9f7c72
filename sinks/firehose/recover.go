package firehose

import (
	"fmt"
	"sort"
	"time"
)

// recover rebuilds buffers, pending flushes and checkpoints from the log.
//
// It runs before the stream is shared, so it fills the buffer set, the
// object queue and the journal without their locks.
func (d *DeliveryStream) recover(dir string, segs []uint64) error {
	jn, bs := d.journal, d.buffers
	parts := map[string][]ref{}
	var intents []*job
	done := map[string]bool{}
	for i, s := range segs {
		err := readSegment(dir, s, i == len(segs)-1, func(e walEntry) error {
			switch e.typ {
			case entryHead:
				h, err := decodeHead(e.payload)
				if err != nil {
					return err
				}
				jn.nextSeq = max(jn.nextSeq, h.Next)
				for k, v := range h.Checkpoints {
					jn.appendedCps[k] = v
				}
			case entryBatch:
				b, err := decodeBatch(e)
				if err != nil {
					return err
				}
				for _, r := range b.refs {
					parts[r.rt.part] = append(parts[r.rt.part], r)
				}
				jn.nextSeq = max(jn.nextSeq, b.firstSeq+uint64(len(b.refs)))
				if b.cp != "" {
					jn.appendedCps[b.source] = b.cp
				}
			case entryIntent:
				j := &job{pos: walPos{seg: e.seg, off: e.off}}
				in, err := decodeIntent(e.payload)
				if err != nil {
					return err
				}
				j.intentRec = in
				if j.Replaces != "" {
					done[j.Replaces] = true // rerouted: resolved by this object
				}
				intents = append(intents, j)
			case entryDone:
				k, err := decodeDone(e.payload)
				if err != nil {
					return err
				}
				done[k.Key] = true
			default:
				return fmt.Errorf("unknown entry type %d", e.typ)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for k, v := range jn.appendedCps {
		jn.cps[k] = cpState{cp: v}
	}
	byPart := map[string][]*job{}
	for _, j := range intents {
		byPart[j.Part] = append(byPart[j.Part], j)
	}
	for part, refs := range parts {
		// Ranges are disjoint but for a reroute, which repeats the range
		// of the object it replaces: sorted by start, such intents are
		// neighbours, and a record belongs to the one not yet done.
		js := byPart[part]
		sort.SliceStable(js, func(a, b int) bool { return js[a].Lo < js[b].Lo })
		k := 0
		for _, r := range refs {
			for k < len(js) && js[k].Hi < r.seq {
				k++
			}
			covered := false
			for x := k; x < len(js) && js[x].Lo <= r.seq; x++ {
				if js[x].Hi < r.seq {
					continue
				}
				covered = true
				if !done[js[x].Key] {
					js[x].refs = append(js[x].refs, r)
					break
				}
			}
			if covered {
				continue
			}
			bs.addLocked(r, time.Unix(0, r.accepted))
			jn.segLive[r.seg]++
		}
	}
	for _, j := range intents {
		if done[j.Key] {
			continue
		}
		if len(j.refs) != j.N {
			return fmt.Errorf("flush intent %s names %d records but the log holds %d of them", j.Key, j.N, len(j.refs))
		}
		j.rt = j.refs[0].rt
		if j.Fail != nil {
			j.rt, j.refs = failureRoute(*j.Fail), reroutedRefs(j.refs, *j.Fail)
		}
		j.since = time.UnixMilli(j.At)
		if j.At == 0 {
			j.since = time.Unix(0, j.refs[0].accepted)
		}
		d.queue.jobs[j.Key] = j
		bs.active[j.Part]++
		jn.segLive[j.pos.seg]++
		for _, r := range j.refs {
			jn.segLive[r.seg]++
		}
	}
	// Buffers were rebuilt with the acceptance time of their first record,
	// so the interval keeps counting from when the records really arrived.
	for _, b := range bs.buffers {
		b.firstAt = time.Unix(0, b.refs[0].accepted)
	}
	return nil
}
