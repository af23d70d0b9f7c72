package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func events(t *testing.T, evs ...event) string {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func out(pkg, test, text string) event {
	return event{Action: "output", Package: pkg, Test: test, Output: text}
}
func act(action, pkg, test string) event { return event{Action: action, Package: pkg, Test: test} }

func TestSummarize(t *testing.T) {
	in := events(t,
		event{Action: "build-output", ImportPath: "x/broken [x/broken.test]", Output: "broken.go:1:1: expected 'package'\n"},
		act("start", "x/a", ""),
		act("run", "x/a", "TestOK"),
		out("x/a", "TestOK", "=== RUN   TestOK\n"),
		out("x/a", "TestOK", "    a_test.go:5: chatter a passing test makes\n"),
		out("x/a", "TestOK", "--- PASS: TestOK (0.00s)\n"),
		act("pass", "x/a", "TestOK"),
		act("run", "x/a", "TestRoot"),
		out("x/a", "TestRoot", "=== RUN   TestRoot\n"),
		out("x/a", "TestRoot", "    a_test.go:9: cannot mount a small tmpfs here (needs root)\n"),
		out("x/a", "TestRoot", "--- SKIP: TestRoot (0.00s)\n"),
		act("skip", "x/a", "TestRoot"),
		out("x/a", "", "PASS\n"),
		out("x/a", "", "ok  \tx/a\t0.01s\n"),
		act("pass", "x/a", ""),
		act("run", "x/b", "TestT"),
		out("x/b", "TestT", "=== RUN   TestT\n"),
		out("x/b", "TestT", "    b_test.go:3: before the subtests\n"),
		act("run", "x/b", "TestT/ok"),
		out("x/b", "TestT/ok", "=== RUN   TestT/ok\n"),
		out("x/b", "TestT/ok", "    --- PASS: TestT/ok (0.00s)\n"),
		act("pass", "x/b", "TestT/ok"),
		act("run", "x/b", "TestT/bad"),
		out("x/b", "TestT/bad", "=== RUN   TestT/bad\n"),
		out("x/b", "TestT/bad", "    b_test.go:7: got 1, want 2\n"),
		out("x/b", "TestT/bad", "    --- FAIL: TestT/bad (0.00s)\n"),
		act("fail", "x/b", "TestT/bad"),
		act("run", "x/b", "TestT/short"),
		out("x/b", "TestT/short", "=== RUN   TestT/short\n"),
		out("x/b", "TestT/short", "    b_test.go:11: slow\n"),
		out("x/b", "TestT/short", "    --- SKIP: TestT/short (0.00s)\n"),
		act("skip", "x/b", "TestT/short"),
		out("x/b", "TestT", "--- FAIL: TestT (0.00s)\n"),
		act("fail", "x/b", "TestT"),
		act("run", "x/b", "TestHang"),
		out("x/b", "TestHang", "=== RUN   TestHang\n"),
		out("x/b", "", "panic: test timed out after 1s\n"),
		out("x/b", "", "FAIL\tx/b\t1.00s\n"),
		act("fail", "x/b", ""),
	) + "go: some non-JSON line\n"
	var w strings.Builder
	if err := summarize(strings.NewReader(in), &w); err != nil {
		t.Fatal(err)
	}
	want := `broken.go:1:1: expected 'package'
ok  	x/a	0.01s
=== RUN   TestT
    b_test.go:3: before the subtests
=== RUN   TestT/bad
    b_test.go:7: got 1, want 2
    --- FAIL: TestT/bad (0.00s)
--- FAIL: TestT (0.00s)
panic: test timed out after 1s
=== RUN   TestHang
FAIL	x/b	1.00s
go: some non-JSON line
skipped: 2 tests
    SKIP x/a TestRoot: a_test.go:9: cannot mount a small tmpfs here (needs root)
    SKIP x/b TestT/short: b_test.go:11: slow
`
	if w.String() != want {
		t.Errorf("got\n%s\nwant\n%s", w.String(), want)
	}
}
