// Command testsummary reads `go test -json` on stdin and prints what plain
// `go test` prints (each package's ok/FAIL line as it finishes, and the full
// output of every failing test), then one line per skipped test with its
// reason, so a skip is never silent:
//
//	go test -json ./... | go run ./scripts/testsummary
//
// It prints as events arrive (a long package shows its lines as soon as it
// ends), and exits 0 whatever the tests did: run it with `set -o pipefail`
// so the pipeline's status is go test's.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	if err := summarize(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output events
}

type skip struct{ pkg, test, reason string }

// summarize copies the text go test would have printed from r to w, then
// the skip summary.
func summarize(r io.Reader, w io.Writer) error {
	s := &summary{w: w, buf: map[string][]string{}}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			s.line(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return s.finish()
}

type summary struct {
	w     io.Writer
	buf   map[string][]string // output of each running test, by package and name
	skips []skip
	err   error
}

func (s *summary) print(text string) {
	if s.err == nil {
		_, s.err = io.WriteString(s.w, text)
	}
}

func key(pkg, test string) string { return pkg + "\x00" + test }

func (s *summary) line(line string) {
	var e event
	if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil {
		s.print(line) // not an event: pass it through
		return
	}
	switch {
	case e.Action == "build-output":
		s.print(e.Output)
	case e.Test == "":
		s.packageEvent(e)
	case e.Action == "output":
		k := key(e.Package, e.Test)
		s.buf[k] = append(s.buf[k], e.Output)
	case e.Action == "fail":
		// the test's ancestors first, so their === RUN lines and logs read
		// in order above the failure
		parts := strings.Split(e.Test, "/")
		for i := 1; i <= len(parts); i++ {
			s.flush(key(e.Package, strings.Join(parts[:i], "/")))
		}
	case e.Action == "skip":
		k := key(e.Package, e.Test)
		s.skips = append(s.skips, skip{e.Package, e.Test, skipReason(s.buf[k])})
		delete(s.buf, k)
	case e.Action == "pass":
		delete(s.buf, key(e.Package, e.Test))
	}
}

// flushPackage prints the output of a package's tests that never ended:
// they were running when the test binary died (a panic, a timeout), and
// what they printed says why.
func (s *summary) flushPackage(pkg string) {
	var keys []string
	for k := range s.buf {
		if strings.HasPrefix(k, pkg+"\x00") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.flush(k)
	}
}

func (s *summary) flush(k string) {
	for _, o := range s.buf[k] {
		s.print(o)
	}
	delete(s.buf, k)
}

// packageEvent prints a package's own lines as go test does without -v: its
// ok/FAIL/? line and anything it printed outside a test, but not the bare
// PASS a passing test binary ends with.
func (s *summary) packageEvent(e event) {
	switch e.Action {
	case "output":
		if e.Output == "PASS\n" {
			return
		}
		if strings.HasPrefix(e.Output, "FAIL\t") {
			s.flushPackage(e.Package) // before the package's closing line
		}
		s.print(e.Output)
	case "fail":
		s.flushPackage(e.Package)
	case "pass", "skip":
		for k := range s.buf {
			if strings.HasPrefix(k, e.Package+"\x00") {
				delete(s.buf, k)
			}
		}
	}
}

// skipReason is the message t.Skip logged: the last line the test printed
// other than go test's own === / --- markers.
func skipReason(out []string) string {
	reason := ""
	for _, o := range out {
		t := strings.TrimSpace(o)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		reason = t
	}
	if reason == "" {
		return "(no reason given)"
	}
	return reason
}

func (s *summary) finish() error {
	noun := "tests"
	if len(s.skips) == 1 {
		noun = "test"
	}
	s.print(fmt.Sprintf("skipped: %d %s\n", len(s.skips), noun))
	for _, sk := range s.skips {
		s.print(fmt.Sprintf("    SKIP %s %s: %s\n", sk.pkg, sk.test, sk.reason))
	}
	return s.err
}
