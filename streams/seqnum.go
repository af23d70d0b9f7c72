package streams

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"math/bits"
)

// Sequence numbers have AWS's shape (RATIONALE.md, "Sequence numbers"): a
// 56-digit decimal whose value, in hexadecimal, is the 47 digits
//
//	2 | shard created (9, epoch s) | shard&0xf (1) | counter (16) | 00 | arrival (9, epoch s) | shard (8) | 2
//
// the layout AWS uses (as reverse-engineered by kinesalite and kinesis-mock,
// and checked by kinesalite's suite). The per-shard counter sits above the
// arrival time, so numbers of a shard order by counter: the counter strictly
// increases, whatever the wall clock does. Counter 0 is never a record: it is
// the shard's StartingSequenceNumber, below every record. A number names its
// shard and, through the shard's creation time, the shard's stream
// incarnation, so GetShardIterator rejects numbers from other shards and from
// deleted streams (docs/semantics.md, "Sequence numbers").
//
// State directories written before this layout hold 38/39-digit numbers
// (in checkpoints, sink write-ahead logs, failure records):
//
//	hi = seqTag | incarnation<<32 | shardIndex,  lo = per-shard counter
//
// parseSeq still reads them, with the same counters, and every new number
// is larger than every old one (56 digits against at most 39).

// seqTag marks an old-layout number's high word.
const seqTag = uint64(1) << 62

// endCounter is the counter of a closed shard's EndingSequenceNumber; like
// AWS (as seen by kinesalite and kinesis-mock), the largest int64.
const endCounter = uint64(1)<<63 - 1

// seqDigits is the length of every number we issue.
const seqDigits = 56

// maxSeqDigits bounds a number's length (old or new) when sizing buffers.
const maxSeqDigits = seqDigits

// seqKey is what every sequence number of one shard shares.
type seqKey struct {
	// top is the value's bits 144 and up: the version digit, the shard's
	// creation second and the shard index's low hex digit.
	top uint64
	// low is the value's bits 0..35: the shard index and the final
	// version digit.
	low uint64
	// inc is the stream incarnation, to accept old-layout numbers.
	inc   uint32
	index uint32
	// created is the shard's creation second, as the numbers carry it.
	created uint64
}

const secsMask = 1<<36 - 1

func newSeqKey(inc, index uint32, createdMillis int64) seqKey {
	created := uint64(max(createdMillis, 0)/1000) & secsMask
	return seqKey{
		top:     2<<40 | created<<4 | uint64(index&0xf),
		low:     uint64(index)<<4 | 2,
		inc:     inc,
		index:   index,
		created: created,
	}
}

// limbs returns the 188-bit value of (k, counter, secs), least significant
// word first.
func (k seqKey) limbs(counter uint64, secs int64) (l0, l1, l2 uint64) {
	s := uint64(max(secs, 0)) & secsMask
	// arrival seconds at bits 36..71, counter at 80..143, top at 144..
	l0 = s<<36 | k.low
	l1 = s>>28 | counter<<16
	l2 = counter>>48 | k.top<<16
	return
}

// appendSeq appends the sequence number of the record with counter that
// arrived at secs (epoch seconds) in k's shard.
func appendSeq(dst []byte, k seqKey, counter uint64, secs int64) []byte {
	l0, l1, l2 := k.limbs(counter, secs)
	return appendDecimal192(dst, l0, l1, l2)
}

func formatSeq(k seqKey, counter uint64, secs int64) string {
	var b [seqDigits + 2]byte
	return string(appendSeq(b[:0], k, counter, secs))
}

// startSeq and endSeq are a shard's StartingSequenceNumber and (once
// closed) EndingSequenceNumber; both carry the shard's creation second.
func startSeq(k seqKey) string { return formatSeq(k, 0, int64(k.created)) }
func endSeq(k seqKey) string   { return formatSeq(k, endCounter, int64(k.created)) }

const pow19 = 10000000000000000000

// appendDecimal192 appends the decimal form of l2:l1:l0 without
// allocating: two divisions by 10^19 leave three base-10^19 digits.
func appendDecimal192(dst []byte, l0, l1, l2 uint64) []byte {
	a2, a1, a0, r0 := divmod19(l2, l1, l0)
	b2, b1, b0, r1 := divmod19(a2, a1, a0)
	if b2 != 0 || b1 != 0 || b0 >= pow19 {
		// Wider than any number we issue; stay correct anyway.
		v := new(big.Int).SetUint64(l2)
		v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(l1))
		v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(l0))
		return v.Append(dst, 10)
	}
	switch {
	case b0 != 0:
		dst = appendDigits(dst, b0)
		dst = append19(dst, r1)
		return append19(dst, r0)
	case r1 != 0:
		dst = appendDigits(dst, r1)
		return append19(dst, r0)
	}
	return appendDigits(dst, r0)
}

func divmod19(l2, l1, l0 uint64) (q2, q1, q0, r uint64) {
	q2, r = l2/pow19, l2%pow19
	q1, r = bits.Div64(r, l1, pow19)
	q0, r = bits.Div64(r, l0, pow19)
	return
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// append19 appends v < 10^19 as exactly 19 digits.
func append19(dst []byte, v uint64) []byte {
	var b [19]byte
	i := 19
	for i > 1 {
		q := v / 100
		d := (v - q*100) * 2
		i -= 2
		b[i], b[i+1] = digitPairs[d], digitPairs[d+1]
		v = q
	}
	b[0] = byte('0' + v)
	return append(dst, b[:]...)
}

func appendDigits(dst []byte, v uint64) []byte {
	var b [20]byte
	i := 20
	for v >= 10 {
		q := v / 10
		i--
		b[i] = byte('0' + v - q*10)
		v = q
	}
	i--
	b[i] = byte('0' + v)
	return append(dst, b[i:]...)
}

// seqStep is the difference between two numbers of one shard whose
// counters differ by dc and arrival seconds by ds (both >= 0), in
// decimal: appending the next number is then a copy and an addition of
// a short decimal instead of a 188-bit conversion. The addition runs
// eight digits at a time (each uint64 word holds eight digit values, one
// per byte, the least significant digit in the low byte).
type seqStep struct {
	dc     uint64
	ds     int64
	digits [40]byte
	n      int
	words  [5]uint64 // digit values, least significant word first
	nw     int
}

const (
	asciiZeros = 0x3030303030303030
	tenBias    = 0x7676767676767676 // a byte of 10 or more plus 0x76 has its top bit set
	topBits    = 0x8080808080808080
)

func (st *seqStep) set(dc uint64, ds int64) {
	st.dc, st.ds = dc, ds
	// dc<<80 + ds<<36 as a u128 (dc < 2^48 and ds < 2^36 by the caller)
	v := u128{hi: dc<<16 + uint64(ds)>>28, lo: uint64(ds) << 36}
	st.n = len(v.appendDecimal(st.digits[:0]))
	st.nw = (st.n + 7) / 8
	for w := 0; w < st.nw; w++ {
		var word uint64
		for b := 7; b >= 0; b-- {
			word <<= 8
			if i := st.n - 1 - (w*8 + b); i >= 0 {
				word |= uint64(st.digits[i] - '0')
			}
		}
		st.words[w] = word
	}
}

// canStep reports whether a step of dc counters and ds seconds is small
// enough for seqStep.
func canStep(dc uint64, ds int64) bool { return dc > 0 && dc < 1<<48 && ds >= 0 && ds < 1<<36 }

// appendNext appends to buf the number buf[from:to] plus st's difference.
func (st *seqStep) appendNext(buf []byte, from, to int) []byte {
	if to-from < 8*st.nw {
		return decimalAddDigits(buf, from, to, st.digits[:st.n])
	}
	start := len(buf)
	buf = append(buf, buf[from:to]...)
	i := len(buf)
	var carry uint64
	for w := 0; w < st.nw; w++ {
		s := binary.BigEndian.Uint64(buf[i-8:i]) - asciiZeros + st.words[w] + carry
		carry = 0
		for {
			m := (s + tenBias) & topBits
			if m == 0 {
				break
			}
			c := m >> 7 // 1 in every byte of 10 or more
			carry += c >> 56
			s = s - c*10 + c<<8
		}
		binary.BigEndian.PutUint64(buf[i-8:i], s+asciiZeros)
		i -= 8
	}
	for carry != 0 && i > start {
		i--
		if buf[i] == '9' {
			buf[i] = '0'
		} else {
			buf[i]++
			carry = 0
		}
	}
	if carry != 0 {
		// A new leading digit (never for our fixed-width numbers).
		buf = append(buf, 0)
		copy(buf[start+1:], buf[start:len(buf)-1])
		buf[start] = '1'
	}
	return buf
}

// decimalAddDigits appends to buf the decimal number buf[from:to] plus the
// decimal number add.
func decimalAddDigits(buf []byte, from, to int, add []byte) []byte {
	start := len(buf)
	buf = append(buf, buf[from:to]...)
	i := len(buf) - 1
	carry := byte(0)
	for j := len(add) - 1; j >= 0 || carry != 0; j-- {
		if i < start {
			// The sum has a new leading digit (never for our fixed-width
			// numbers; stay correct anyway).
			buf = append(buf, 0)
			copy(buf[start+1:], buf[start:len(buf)-1])
			buf[start] = '0'
			i = start
		}
		x := buf[i] - '0' + carry
		if j >= 0 {
			x += add[j] - '0'
		}
		carry = 0
		if x >= 10 {
			x -= 10
			carry = 1
		}
		buf[i] = '0' + x
		i--
		if j < 0 && carry == 0 {
			break
		}
	}
	return buf
}

// seqParts is a parsed sequence number.
type seqParts struct {
	// legacy marks the 38/39-digit layout; inc is then its incarnation.
	legacy bool
	inc    uint32
	// created is the shard's creation second (the current layout).
	created uint64
	shard   uint32
	counter uint64
	// secs is the record's arrival second (the current layout).
	secs uint64
}

var (
	two185     = new(big.Int).Lsh(big.NewInt(1), 185)
	three184   = new(big.Int).Mul(big.NewInt(3), new(big.Int).Lsh(big.NewInt(1), 184))
	errForeign = fmt.Errorf("sequence number was not issued by this service")
)

// parseSeq reads a sequence number of either layout.
func parseSeq(s string) (seqParts, error) {
	if len(s) <= 39 {
		v, err := parseU128(s)
		if err != nil || v.hi&^(uint64(1)<<62-1) != seqTag {
			return seqParts{}, errForeign
		}
		return seqParts{legacy: true, inc: uint32(v.hi >> 32 & (1<<30 - 1)), shard: uint32(v.hi), counter: v.lo}, nil
	}
	if len(s) != seqDigits || s[0] == '0' {
		return seqParts{}, errForeign
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Cmp(two185) < 0 || v.Cmp(three184) >= 0 {
		return seqParts{}, errForeign
	}
	var w [3]big.Word // 64-bit words on the platforms we build for
	words := v.Bits()
	if bits.UintSize != 64 || len(words) > 3 {
		return seqParts{}, errForeign
	}
	copy(w[:], words)
	l0, l1, l2 := uint64(w[0]), uint64(w[1]), uint64(w[2])
	p := seqParts{
		shard:   uint32(l0 >> 4),
		secs:    (l0>>36 | l1<<28) & secsMask,
		counter: l1>>16 | l2<<48,
		created: l2 >> 20 & secsMask,
	}
	byte1 := l1 >> 8 & 0xff
	if l0&0xf != 2 || byte1 != 0 || l2>>16&0xf != uint64(p.shard&0xf) || p.counter > endCounter || p.shard > 1<<31-1 ||
		int64(p.created) >= maxShardSecs {
		return seqParts{}, errForeign
	}
	return p, nil
}

// issuedBy reports whether p was issued for the shard k belongs to.
func (p seqParts) issuedBy(k seqKey) bool {
	if p.legacy {
		return p.inc == k.inc && p.shard == k.index
	}
	return p.created == k.created && p.shard == k.index
}

// sameStream reports whether p comes from the stream incarnation of k's
// shard (any shard of it); for the current layout, shards created in the
// same second as k's count as one.
func (p seqParts) sameStream(k seqKey) bool {
	if p.legacy {
		return p.inc == k.inc
	}
	return true
}

func seqHigh(incarnation, shardIndex uint32) uint64 {
	return seqTag | uint64(incarnation)<<32 | uint64(shardIndex)
}

// formatLegacySeq renders a number in the layout used before, as older
// state directories hold them (tests use it).
func formatLegacySeq(inc, shard uint32, counter uint64) string {
	return u128{seqHigh(inc, shard), counter}.String()
}

// foreignInfo is what the service reads from a number it did not issue to
// this shard: numbers below 2^125 are its version-0 layout, numbers of 47
// hex digits starting with 2 carry their version in the last digit (the
// suite recorded both; kinesalite's db/index.js documents the layouts).
type foreignInfo struct {
	ok      bool
	version int
	shard   int64
	secs    int64 // version 2: the record's arrival second
}

var (
	two124 = new(big.Int).Lsh(big.NewInt(1), 124)
	two125 = new(big.Int).Lsh(big.NewInt(1), 125)
	// maxShardSecs: the service rejects creation times from year 2477 on.
	maxShardSecs = int64(16025175000)
)

func foreignSeq(s string) foreignInfo {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 {
		return foreignInfo{}
	}
	if v.Cmp(two124) < 0 {
		v.Add(v, two124)
	}
	hex := v.Text(16)
	hexInt := func(from, to int) int64 {
		n, _ := new(big.Int).SetString(hex[from:to], 16)
		return n.Int64()
	}
	switch {
	case v.Cmp(two125) < 0: // version 0: 32 hex digits
		if hexInt(1, 10) >= maxShardSecs {
			return foreignInfo{}
		}
		return foreignInfo{ok: true, version: 0, shard: hexInt(28, 32)}
	case v.Cmp(two185) > 0 && v.Cmp(three184) < 0 && len(hex) == 47:
		switch hex[46] {
		case '2':
			if hex[11] > '7' || hexInt(1, 10) >= maxShardSecs {
				return foreignInfo{}
			}
			shard := hexInt(38, 46)
			if hex[38] > '7' {
				shard -= 1 << 32
			}
			return foreignInfo{ok: true, version: 2, shard: shard, secs: hexInt(29, 38)}
		case '1':
			return foreignInfo{ok: true, version: 1, shard: hexInt(38, 46)}
		}
	}
	return foreignInfo{}
}

// foreignShardID names a shard index read from a foreign number as the
// service does, negative ones included ("shardId--02147483648").
func foreignShardID(ix int64) string {
	if ix < 0 {
		return fmt.Sprintf("shardId--%011d", -ix)
	}
	return fmt.Sprintf("shardId-%012d", ix)
}
