package streams

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"math/bits"
)

// u128 is an unsigned 128-bit integer. Hash keys and sequence numbers are
// both 128-bit decimals on the wire; a fixed-size value keeps routing and
// sequence formatting free of big.Int allocations on the put path.
type u128 struct{ hi, lo uint64 }

var maxU128 = u128{^uint64(0), ^uint64(0)}

func (a u128) cmp(b u128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

func (a u128) add64(n uint64) u128 {
	lo, c := bits.Add64(a.lo, n, 0)
	return u128{a.hi + c, lo}
}

func (a u128) sub64(n uint64) u128 {
	lo, b := bits.Sub64(a.lo, n, 0)
	return u128{a.hi - b, lo}
}

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	return u128{a.hi + b.hi + c, lo}
}

// div64 returns a/d and a%d.
func (a u128) div64(d uint64) (u128, uint64) {
	qhi, r := a.hi/d, a.hi%d
	qlo, r := bits.Div64(r, a.lo, d)
	return u128{qhi, qlo}, r
}

// mul64 returns a*m, wrapping on overflow (callers stay in range).
func (a u128) mul64(m uint64) u128 {
	hi, lo := bits.Mul64(a.lo, m)
	return u128{hi + a.hi*m, lo}
}

// hashKeyOf is the Kinesis partition-key hash: MD5 of the UTF-8 key read as
// an unsigned big-endian 128-bit integer.
func hashKeyOf(partitionKey string) u128 {
	sum := md5.Sum([]byte(partitionKey))
	return u128{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

var errNotU128 = errors.New("not an unsigned 128-bit decimal")

// parseU128 parses a canonical decimal (no sign, no leading zeros except
// "0") into a u128.
func parseU128(s string) (u128, error) {
	if s == "" || len(s) > 39 || (len(s) > 1 && s[0] == '0') {
		return u128{}, errNotU128
	}
	var v u128
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return u128{}, errNotU128
		}
		// v = v*10 + digit, detecting overflow.
		hi1, lo := bits.Mul64(v.lo, 10)
		hi2, hi3 := bits.Mul64(v.hi, 10)
		if hi2 != 0 {
			return u128{}, errNotU128
		}
		hi, c1 := bits.Add64(hi1, hi3, 0)
		if c1 != 0 {
			return u128{}, errNotU128
		}
		lo, c2 := bits.Add64(lo, uint64(c-'0'), 0)
		hi, c3 := bits.Add64(hi, c2, 0)
		if c3 != 0 {
			return u128{}, errNotU128
		}
		v = u128{hi, lo}
	}
	return v, nil
}

// appendDecimal appends the decimal form of a to dst.
func (a u128) appendDecimal(dst []byte) []byte {
	if a.hi == 0 {
		return appendUint(dst, a.lo)
	}
	var buf [40]byte
	i := len(buf)
	for a.hi != 0 || a.lo != 0 {
		var r uint64
		// Peel 19 digits at a time: 1e19 fits in a uint64.
		a, r = a.div64(1e19)
		for j := 0; j < 19; j++ {
			i--
			buf[i] = byte('0' + r%10)
			r /= 10
			if a.hi == 0 && a.lo == 0 && r == 0 {
				break
			}
		}
	}
	return append(dst, buf[i:]...)
}

func appendUint(dst []byte, v uint64) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

func (a u128) String() string { return string(a.appendDecimal(nil)) }

// evenRanges splits the hash space into n contiguous ranges the way AWS and
// both emulators do (docs/semantics.md, "Hash key routing"): width
// floor(2^128/n), the last range ends at 2^128-1.
func evenRanges(n int) [][2]u128 {
	// floor(2^128/n) == floor((2^128-1)/n) unless n divides 2^128, i.e. n is
	// a power of two, where it is one more.
	w, r := maxU128.div64(uint64(n))
	if r == uint64(n)-1 {
		w = w.add64(1)
	}
	out := make([][2]u128, n)
	var start u128
	for i := 0; i < n; i++ {
		end := start.add(w).sub64(1)
		if i == n-1 {
			end = maxU128
		}
		out[i] = [2]u128{start, end}
		start = end.add64(1)
	}
	return out
}
