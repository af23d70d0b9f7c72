package firehose

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

func TestPartitionKeysGolden(t *testing.T) {
	const path = "testdata/partition_keys.golden"
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
		parts := strings.Split(line, "\t")
		if len(parts) != 4 {
			t.Fatalf("malformed golden line %q", line)
		}
		q, rec, want, expect := parts[0], parts[1], strings.Split(parts[2], ","), parts[3]
		code, err := compileQuery(q)
		if err != nil {
			t.Fatalf("compile %q: %v", q, err)
		}
		got := ""
		keys, rerr := extractKeys(context.Background(), code, []byte(rec), want)
		if rerr != nil {
			got = "error: " + rerr.Type + ": " + rerr.Message
		} else {
			var kv []string
			for k, v := range keys {
				kv = append(kv, k+"="+v)
			}
			sort.Strings(kv)
			got = strings.Join(kv, ",")
		}
		fmt.Fprintf(&out, "%s\t%s\t%s\t%s\n", q, rec, parts[2], got)
		if !*update && got != expect {
			t.Errorf("query %q on %s\n got: %s\nwant: %s", q, rec, got, expect)
		}
	}
	f.Close()
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
