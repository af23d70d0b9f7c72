// Package kpltest builds KPL aggregated records for tests, with protowire:
// an encoder independent of the hand-written reader in deaggregate, so a
// test of that reader does not check it against itself.
package kpltest

import (
	"crypto/md5"

	"google.golang.org/protobuf/encoding/protowire"
)

// Magic starts a KPL aggregated record (docs/semantics.md, "KPL
// aggregation").
var Magic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// Record returns one aggregated record holding data: partition key table,
// explicit hash key table, then one Record per datum with a tag, and the
// MD5 of the message.
func Record(data ...string) []byte {
	var msg []byte
	msg = protowire.AppendTag(msg, 1, protowire.BytesType)
	msg = protowire.AppendString(msg, "pk-0")
	msg = protowire.AppendTag(msg, 2, protowire.BytesType)
	msg = protowire.AppendString(msg, "123456")
	for _, d := range data {
		var rec []byte
		rec = protowire.AppendTag(rec, 1, protowire.VarintType)
		rec = protowire.AppendVarint(rec, 0)
		rec = protowire.AppendTag(rec, 2, protowire.VarintType)
		rec = protowire.AppendVarint(rec, 0)
		rec = protowire.AppendTag(rec, 3, protowire.BytesType)
		rec = protowire.AppendBytes(rec, []byte(d))
		var tag []byte
		tag = protowire.AppendTag(tag, 1, protowire.BytesType)
		tag = protowire.AppendString(tag, "k")
		rec = protowire.AppendTag(rec, 4, protowire.BytesType)
		rec = protowire.AppendBytes(rec, tag)
		msg = protowire.AppendTag(msg, 3, protowire.BytesType)
		msg = protowire.AppendBytes(msg, rec)
	}
	sum := md5.Sum(msg)
	return append(append(append([]byte{}, Magic...), msg...), sum[:]...)
}
