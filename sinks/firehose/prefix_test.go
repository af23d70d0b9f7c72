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
