package streams

import (
	"encoding/binary"
	"errors"
	"os"

	"github.com/sluice-dev/sluice/internal/seglog"
)

// Sealed-segment index files. When appends roll to a new segment, the old
// one will never change again, so its sparse index and bookkeeping are
// written beside it as <segment>.idx. Open loads those instead of reading
// and checksumming every sealed segment in full; only the newest segment
// (the one a crash can have torn) is scanned. The file is a cache: it is
// written without fsync, and a missing, torn or mismatching one (size or
// CRC) just means that segment is scanned as before.
//
// Layout (little endian): magic u32 | version u32 | size i64 | last u64 |
// firstMs i64 | lastMs i64 | lastIndexed i64 | n u32 | n × (counter u64,
// millis i64, off i64) | crc32c of everything before it u32.

const (
	idxMagic   = 0x534c4958 // "SLIX"
	idxVersion = 1
	idxHeader  = 4 + 4 + 8 + 8 + 8 + 8 + 8 + 4
	idxEntry   = 24
)

func idxPath(segPath string) string { return segPath + ".idx" }

// writeSealedIndex records s's bookkeeping. Callers own s's fields (the
// append lock, after the segment was sealed).
func writeSealedIndex(s *shardSegment) error {
	b := make([]byte, idxHeader, idxHeader+len(s.index)*idxEntry+4)
	binary.LittleEndian.PutUint32(b[0:], idxMagic)
	binary.LittleEndian.PutUint32(b[4:], idxVersion)
	binary.LittleEndian.PutUint64(b[8:], uint64(s.size))
	binary.LittleEndian.PutUint64(b[16:], s.last)
	binary.LittleEndian.PutUint64(b[24:], uint64(s.firstMs))
	binary.LittleEndian.PutUint64(b[32:], uint64(s.lastMs))
	binary.LittleEndian.PutUint64(b[40:], uint64(s.lastIndexd))
	binary.LittleEndian.PutUint32(b[48:], uint32(len(s.index)))
	for _, e := range s.index {
		b = binary.LittleEndian.AppendUint64(b, e.counter)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.millis))
		b = binary.LittleEndian.AppendUint64(b, uint64(e.off))
	}
	b = binary.LittleEndian.AppendUint32(b, seglog.Checksum(b))
	tmp := idxPath(s.path) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, idxPath(s.path))
}

var errNoSealedIndex = errors.New("no usable sealed index")

// loadSealedIndex fills s from its index file if that matches a segment of
// fileSize bytes whose records all follow next.
func loadSealedIndex(s *shardSegment, fileSize int64, next uint64) error {
	b, err := os.ReadFile(idxPath(s.path))
	if err != nil || len(b) < idxHeader+4 {
		return errNoSealedIndex
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if seglog.Checksum(body) != sum ||
		binary.LittleEndian.Uint32(b[0:]) != idxMagic || binary.LittleEndian.Uint32(b[4:]) != idxVersion {
		return errNoSealedIndex
	}
	n := int(binary.LittleEndian.Uint32(b[48:]))
	if len(body) != idxHeader+n*idxEntry || int64(binary.LittleEndian.Uint64(b[8:])) != fileSize {
		return errNoSealedIndex
	}
	index := make([]indexEntry, n)
	for i := range index {
		p := body[idxHeader+i*idxEntry:]
		index[i] = indexEntry{
			counter: binary.LittleEndian.Uint64(p[0:]),
			millis:  int64(binary.LittleEndian.Uint64(p[8:])),
			off:     int64(binary.LittleEndian.Uint64(p[16:])),
		}
	}
	last := binary.LittleEndian.Uint64(b[16:])
	if n == 0 || last == 0 || index[0].counter < next || index[0].counter < s.id || last < index[n-1].counter {
		return errNoSealedIndex
	}
	s.size = fileSize
	s.last = last
	s.firstMs = int64(binary.LittleEndian.Uint64(b[24:]))
	s.lastMs = int64(binary.LittleEndian.Uint64(b[32:]))
	s.lastIndexd = int64(binary.LittleEndian.Uint64(b[40:]))
	s.index = index
	return nil
}
