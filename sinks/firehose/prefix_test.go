package firehose

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenInput is the fixed evaluation context of testdata/prefixes.golden.
var goldenInput = renderInput{
	Time:      time.Date(2018, 8, 27, 10, 30, 5, 123456789, time.UTC),
	Query:     map[string]string{"event_type": "click", "slash": "a/b", "dots": "..", "ctrl": "x\ny", "pct": "50%", "num": "42"},
	Lambda:    map[string]string{"customer": "c-1"},
	ErrorType: "processing-failed",
	Random:    func(n int) string { return fmt.Sprintf("rnd%d", n) },
}

func renderGolden(src string) string {
	p, err := ParsePrefix(src)
	if err != nil {
		return "error: " + err.Error()
	}
	got, err := p.withDefaultTime().render(goldenInput)
	if err != nil {
		return "error: " + err.Error()
	}
	return got
}

func TestPrefixGolden(t *testing.T) {
	const path = "testdata/prefixes.golden"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			out.WriteString(line + "\n")
			continue
		}
		src, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("malformed golden line %q", line)
		}
		got := renderGolden(src)
		fmt.Fprintf(&out, "%s\t%s\n", src, got)
		if !*update && got != want {
			t.Errorf("prefix %q\n got: %s\nwant: %s", src, got, want)
		}
	}
	f.Close()
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTimeFormatJavaPitfalls(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		at      time.Time
		want    string
	}{
		// Week-based year under Locale.US: the week of Sunday 2019-12-29
		// holds 2020-01-01, so YYYY says 2020 while yyyy says 2019.
		{"YYYY yyyy ww", time.Date(2019, 12, 29, 0, 0, 0, 0, time.UTC), "2020 2019 01"},
		{"YYYY ww", time.Date(2019, 12, 28, 0, 0, 0, 0, time.UTC), "2019 52"},
		{"YYYY w", time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), "2021 1"},
		{"DD D", time.Date(2018, 1, 5, 0, 0, 0, 0, time.UTC), "05 5"},
		{"DDD", time.Date(2018, 1, 5, 0, 0, 0, 0, time.UTC), "005"},
		{"hh a", time.Date(2018, 1, 5, 0, 7, 0, 0, time.UTC), "12 AM"},
		{"h a", time.Date(2018, 1, 5, 13, 7, 0, 0, time.UTC), "1 PM"},
		{"kk", time.Date(2018, 1, 5, 0, 7, 0, 0, time.UTC), "24"},
		{"yyyy-MM-dd'T'HH:mm", time.Date(2018, 1, 5, 0, 7, 0, 0, time.UTC), "2018-01-05T00:07"},
		{"''yy''", time.Date(2018, 1, 5, 0, 7, 0, 0, time.UTC), "'18'"},
		{"SSSSSSSSS n", time.Date(2018, 1, 5, 0, 7, 0, 1500, time.UTC), "000001500 1500"},
		{"EEEEE MMMMM", time.Date(2018, 1, 5, 0, 7, 0, 0, time.UTC), "F J"},
	} {
		tf, err := compileTimeFormat(tc.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		if got := tf.format(tc.at); got != tc.want {
			t.Errorf("format(%q, %s) = %q, want %q", tc.pattern, tc.at, got, tc.want)
		}
	}
}

func TestPrefixUsesCustomTimeZone(t *testing.T) {
	cfg := testConfig()
	cfg.CustomTimeZone = "Asia/Tokyo"
	cc, err := cfg.compile()
	if err != nil {
		t.Fatal(err)
	}
	got, err := cc.prefix.render(renderInput{Time: time.Date(2018, 8, 27, 20, 0, 0, 0, time.UTC).In(cc.loc)})
	if err != nil || got != "2018/08/28/05/" {
		t.Fatalf("render = %q, %v; want 2018/08/28/05/", got, err)
	}
}

func TestEvaluatedPrefixLimit(t *testing.T) {
	p, err := ParsePrefix("!{partitionKeyFromQuery:k}/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.render(renderInput{Query: map[string]string{"k": strings.Repeat("a", 511)}}); err != nil {
		t.Fatalf("512 characters must pass: %v", err)
	}
	if _, err := p.render(renderInput{Query: map[string]string{"k": strings.Repeat("a", 512)}}); err == nil {
		t.Fatal("513 characters must fail")
	}
}

// checkByRendering is what routing did before Prefix.check: render the
// prefix with placeholder random strings, then check the key.
func checkByRendering(p *Prefix, in renderInput, nameLen int) error {
	in.Random = func(int) string { return "xxxxxxxxxxx" }
	pfx, err := p.render(in)
	if err != nil {
		return err
	}
	return checkObjectKey(pfx, nameLen)
}

// TestCheckMatchesRendering: measuring a prefix gives the verdict that
// rendering it does, at the limits (rule 6's characters, S3's bytes),
// with multi-byte values, invalid UTF-8 and month names of any length.
func TestCheckMatchesRendering(t *testing.T) {
	prefixes := []string{
		"!{partitionKeyFromQuery:k}/",
		"p/!{partitionKeyFromQuery:k}/!{timestamp:MMMM}/!{firehose:random-string}/",
		"!{partitionKeyFromLambda:l}/!{partitionKeyFromQuery:k}/!{timestamp:yyyy/MM/dd/HH}/",
		"errors/!{firehose:error-output-type}/!{timestamp:EEEE}/",
		"caf\u00e9/!{partitionKeyFromQuery:k}/",
	}
	values := []string{"", "v", "a/b", "\xff", "\u00e9", strings.Repeat("a", 400), strings.Repeat("a", 480),
		strings.Repeat("\u00e9", 300), strings.Repeat("\u00e9", 500), strings.Repeat("\U0001F600", 240)}
	times := []time.Time{time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)}
	for _, src := range prefixes {
		p, err := ParsePrefix(src)
		if err != nil {
			t.Fatal(err)
		}
		p = p.withDefaultTime()
		for _, v := range values {
			for _, at := range times {
				for _, nameLen := range []int{0, 80, 600} {
					in := renderInput{Time: at, Query: map[string]string{"k": v}, Lambda: map[string]string{"l": v}, ErrorType: "processing-failed"}
					got, want := p.check(in, nameLen), checkByRendering(p, in, nameLen)
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s with %q at %s, name of %d bytes: check says %v, rendering %v", src, v, at.Format("January"), nameLen, got, want)
					}
				}
			}
		}
		in := renderInput{Time: times[0]}
		if got, want := p.check(in, 80), checkByRendering(p, in, 80); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s without keys: check says %v, rendering %v", src, got, want)
		}
	}
}
