package firehose

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sluice-dev/sluice/internal/fsutil"
	"github.com/sluice-dev/sluice/internal/seglog"
)

// The write-ahead log of the release before internal/seglog: *.wal
// segments whose entries are framed as payload length u32 | CRC-32C of
// type and payload u32 | type u8 | payload, with JSON head, intent and
// done payloads and JSON routes inside binary batches. Such a log is
// upgraded once, at Open, to the current format, and says so in the log:
//
//  1. every legacy segment is read (a torn tail of the newest cut, as its
//     release would have), its entries re-encoded, and written, fsynced,
//     as the same-numbered current segment into a scratch directory;
//  2. those files are renamed into the log directory, which is fsynced;
//  3. the legacy segments are removed.
//
// A crash anywhere repeats the upgrade from whatever legacy segments are
// left: the conversion is deterministic, so a current segment written
// before the crash is rewritten with the same bytes.

const (
	legacySuffix    = ".wal"
	legacyHeaderLen = 9
	legacyMaxEntry  = 1 << 30
	upgradeScratch  = "upgrade.tmp"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func upgradeLegacyWAL(dir string) error {
	legacy, err := seglog.List(dir, legacySuffix)
	if err != nil || len(legacy) == 0 {
		return err
	}
	scratch := filepath.Join(dir, upgradeScratch)
	if err := os.RemoveAll(scratch); err != nil {
		return fmt.Errorf("upgrade wal: %w", err)
	}
	if err := fsutil.MkdirAll(scratch, 0o755); err != nil {
		return fmt.Errorf("upgrade wal: %w", err)
	}
	for i, n := range legacy {
		var out []byte
		err := readLegacySegment(dir, n, i == len(legacy)-1, func(typ byte, payload []byte) error {
			p, err := upgradeEntry(typ, payload)
			if err != nil {
				return err
			}
			out = seglog.AppendFrame(out, append([]byte{typ}, p...))
			return nil
		})
		if err != nil {
			return fmt.Errorf("upgrade wal: %w", err)
		}
		if err := writeSynced(filepath.Join(scratch, segName(n)), out); err != nil {
			return fmt.Errorf("upgrade wal: %w", err)
		}
	}
	if err := fsutil.SyncDir(scratch); err != nil {
		return fmt.Errorf("upgrade wal: %w", err)
	}
	for _, n := range legacy {
		if err := os.Rename(filepath.Join(scratch, segName(n)), filepath.Join(dir, segName(n))); err != nil {
			return fmt.Errorf("upgrade wal: %w", err)
		}
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("upgrade wal: %w", err)
	}
	for _, n := range legacy {
		if err := os.Remove(filepath.Join(dir, seglog.SegmentName(n, legacySuffix))); err != nil {
			return fmt.Errorf("upgrade wal: remove legacy segment: %w", err)
		}
	}
	if err := os.Remove(scratch); err != nil {
		return fmt.Errorf("upgrade wal: %w", err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("upgrade wal: %w", err)
	}
	slog.Info("upgraded a write-ahead log written by an earlier release to the current format",
		"dir", dir, "segments", len(legacy))
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readLegacySegment reads every entry of a legacy segment; a bad tail is
// cut from the last one and an error elsewhere.
func readLegacySegment(dir string, n uint64, last bool, fn func(typ byte, payload []byte) error) error {
	path := filepath.Join(dir, seglog.SegmentName(n, legacySuffix))
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read legacy wal segment %d: %w", n, err)
	}
	off := 0
	for off < len(data) {
		bad := ""
		var typ byte
		var plen int
		if len(data)-off < legacyHeaderLen {
			bad = "short header"
		} else {
			plen = int(binary.LittleEndian.Uint32(data[off:]))
			sum := binary.LittleEndian.Uint32(data[off+4:])
			typ = data[off+8]
			switch {
			case plen > legacyMaxEntry || len(data)-off-legacyHeaderLen < plen:
				bad = "short entry"
			case crc32.Update(seglog.Checksum([]byte{typ}), castagnoli, data[off+legacyHeaderLen:off+legacyHeaderLen+plen]) != sum:
				bad = "checksum mismatch"
			}
		}
		if bad != "" {
			if !last {
				return fmt.Errorf("legacy wal segment %d is damaged at offset %d (%s)", n, off, bad)
			}
			break // a crash's torn tail: never acknowledged
		}
		if err := fn(typ, data[off+legacyHeaderLen:off+legacyHeaderLen+plen]); err != nil {
			return fmt.Errorf("legacy wal segment %d offset %d: %w", n, off, err)
		}
		off += legacyHeaderLen + plen
	}
	return nil
}

// upgradeEntry re-encodes a legacy entry's payload.
func upgradeEntry(typ byte, p []byte) ([]byte, error) {
	switch typ {
	case entryHead:
		var h headRec
		if err := json.Unmarshal(p, &h); err != nil {
			return nil, fmt.Errorf("decode head: %w", err)
		}
		return encodeHead(h), nil
	case entryIntent:
		var in intentRec
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, fmt.Errorf("decode flush intent: %w", err)
		}
		return encodeIntent(in), nil
	case entryDone:
		var k doneRec
		if err := json.Unmarshal(p, &k); err != nil {
			return nil, fmt.Errorf("decode flush done: %w", err)
		}
		return encodeDone(k), nil
	case entryBatch:
		return upgradeBatch(p)
	}
	return nil, fmt.Errorf("unknown entry type %d", typ)
}

// upgradeBatch re-encodes a batch's route table; what precedes it and the
// records after it keep their encoding.
func upgradeBatch(p []byte) ([]byte, error) {
	d := dec{b: p}
	d.uvarint() // first sequence number
	d.varint()  // accept time
	d.str()     // source
	d.str()     // checkpoint
	prefix := d.off
	nr := d.uvarint()
	if d.err == nil && nr > uint64(len(p)) {
		return nil, errors.New("batch entry: route count runs past the entry")
	}
	e := enc{b: make([]byte, 0, len(p))}
	e.b = append(e.b, p[:prefix]...)
	e.uvarint(nr)
	for range nr {
		j, _ := d.bytes()
		if d.err != nil {
			break
		}
		rt := &route{}
		if err := json.Unmarshal(j, rt); err != nil {
			return nil, fmt.Errorf("batch entry: decode route: %w", err)
		}
		encodeRoute(&e, rt)
	}
	if d.err != nil {
		return nil, fmt.Errorf("batch entry: %w", d.err)
	}
	return append(e.b, p[d.off:]...), nil
}
