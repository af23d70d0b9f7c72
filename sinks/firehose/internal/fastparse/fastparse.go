// Package fastparse parses JSON records once for the delivery stream's
// direct paths (partition keys and Parquet rows read from a fastjson value,
// without reflection), and decides which records only encoding/json may
// judge: those go to the reference paths, which word every error.
package fastparse

import (
	"bytes"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
)

// Pool holds fastjson parsers: one is taken for a batch or a flush, so
// parsing allocates nothing once the parsers are warm.
var Pool fastjson.ParserPool

// Record parses a record for the direct paths, or returns nil when only
// encoding/json may judge it: invalid JSON (the slow path words the error),
// invalid UTF-8 and \uD800-style escapes (encoding/json replaces those
// with U+FFFD where fastjson keeps them). The strict validator runs first
// because fastjson's parser accepts some texts encoding/json rejects
// (NaN, 01, control characters in strings).
func Record(p *fastjson.Parser, data []byte) *fastjson.Value {
	if !utf8.Valid(data) || hasSurrogateEscape(data) || fastjson.ValidateBytes(data) != nil {
		return nil
	}
	v, err := p.ParseBytes(data)
	if err != nil {
		return nil
	}
	return v
}

func hasSurrogateEscape(b []byte) bool {
	for {
		i := bytes.Index(b, []byte(`\u`))
		if i < 0 || i+2 >= len(b) {
			return false
		}
		if c := b[i+2]; c == 'd' || c == 'D' {
			return true
		}
		b = b[i+2:]
	}
}

// UnsafeString views b as a string for a call that does not keep it
// (strconv and the timestamp parsers keep it only in errors, which the
// direct paths drop).
func UnsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
