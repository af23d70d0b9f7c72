package frontdoor

import (
	"strconv"
	"unicode/utf8"
)

// MaxMessage is the longest error message an API sends. Messages quote
// what the client sent (an operation name, a content type, a stream name,
// a list of records); a client that sends 100 KB of it must not get 100 KB
// back per request. Each quoted value is cut where the message is made
// (Quote here, streams' capQuoted for validation messages), so a message
// stays short whatever the input; this whole-message cap is the backstop.
// It is sized to let the service's longest verbatim message through: AWS
// prints a 501-entry PutRecords list entry by entry (about 33 KB, none of
// it the client's bytes), and kinesalite's recordings check it.
const MaxMessage = 64 << 10

// maxQuote is how much of one client-sent value Quote keeps.
const maxQuote = 256

// Quote returns a client-sent value (a header, a name) as an error message
// may quote it: whole up to maxQuote bytes, else its first maxQuote bytes
// (cut on a character boundary) and its length.
func Quote(s string) string {
	if len(s) <= maxQuote {
		return s
	}
	cut := maxQuote
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

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
