package streams

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Shard iterators are opaque to clients but self-describing to us:
//
//	version u8 | incarnation u32 | shard u32 | position u64 | issued ms i64 | HMAC-SHA256[:16]
//
// base64url-encoded. The HMAC, keyed per engine and persisted with the data,
// makes them tamper-evident, so a forged or foreign iterator is rejected
// instead of reading an arbitrary position (docs/semantics.md, "Shard
// iterators"). The position is the counter of the next record to return.
const (
	iterVersion = 1
	iterBody    = 1 + 4 + 4 + 8 + 8
	iterMAC     = 16
	// iteratorTTL is how long an iterator stays valid (docs/semantics.md,
	// "Shard iterators").
	iteratorTTL = 5 * time.Minute
)

type iterator struct {
	inc    uint32
	shard  uint32
	pos    uint64
	issued int64 // Unix ms
}

func (e *Engine) encodeIterator(it iterator) string {
	var b [iterBody + iterMAC]byte
	b[0] = iterVersion
	binary.BigEndian.PutUint32(b[1:5], it.inc)
	binary.BigEndian.PutUint32(b[5:9], it.shard)
	binary.BigEndian.PutUint64(b[9:17], it.pos)
	binary.BigEndian.PutUint64(b[17:25], uint64(it.issued))
	m := hmac.New(sha256.New, e.iterKey)
	m.Write(b[:iterBody])
	copy(b[iterBody:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (e *Engine) decodeIterator(s string) (iterator, bool) {
	var b [iterBody + iterMAC]byte
	if base64.RawURLEncoding.DecodedLen(len(s)) != len(b) {
		return iterator{}, false
	}
	if _, err := base64.RawURLEncoding.Decode(b[:], []byte(s)); err != nil || b[0] != iterVersion {
		return iterator{}, false
	}
	m := hmac.New(sha256.New, e.iterKey)
	m.Write(b[:iterBody])
	if !hmac.Equal(m.Sum(nil)[:iterMAC], b[iterBody:]) {
		return iterator{}, false
	}
	return iterator{
		inc:    binary.BigEndian.Uint32(b[1:5]),
		shard:  binary.BigEndian.Uint32(b[5:9]),
		pos:    binary.BigEndian.Uint64(b[9:17]),
		issued: int64(binary.BigEndian.Uint64(b[17:25])),
	}, true
}
