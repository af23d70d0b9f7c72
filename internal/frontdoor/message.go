package frontdoor

import (
	"strconv"
	"unicode/utf8"
)

// MaxMessage is the longest error message an API sends. Messages quote
// what the client sent (an operation name, a content type, a stream name,
// a list of records); a client that sends 100 KB of it must not get 100 KB
// back per request.
const MaxMessage = 1 << 10

// keepTail is how much of a long message's end CapMessage keeps: AWS
// validation messages quote the value first and name the broken
// constraint last.
const keepTail = 256

// CapMessage cuts the middle out of a message over MaxMessage bytes (on
// character boundaries), saying how much was cut.
func CapMessage(msg string) string {
	if len(msg) <= MaxMessage {
		return msg
	}
	tail := len(msg) - keepTail
	for tail < len(msg) && !utf8.RuneStart(msg[tail]) {
		tail++
	}
	note := " ...[" + strconv.Itoa(len(msg)-MaxMessage) + "+ of " + strconv.Itoa(len(msg)) + " bytes cut]... "
	head := MaxMessage - len(note) - (len(msg) - tail)
	for head > 0 && !utf8.RuneStart(msg[head]) {
		head--
	}
	note = " ...[" + strconv.Itoa(tail-head) + " of " + strconv.Itoa(len(msg)) + " bytes cut]... "
	return msg[:head] + note + msg[tail:]
}
