package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/sluice-dev/sluice/internal/harness"
)

// TestFaultyFunctionsAreIsolatedAndRedriven runs one handler source as a Go
// plugin and as a WASM module on the same stream (e2e/testdata/faults.yaml)
// and puts, among good records, records that make it panic and hang (both
// loaders), crash the guest and exhaust its memory cap (WASM). Each mapping
// bisects down to the faulty record, sends it with its payload to the
// failure bucket and keeps every other key flowing; after the fix (FAULTS
// emptied), `sluice redrive` replays each failure successfully.
func TestFaultyFunctionsAreIsolatedAndRedriven(t *testing.T) {
	dir := faultsWorkdir(t)
	tmpl := filepath.Join(dir, "template.yaml")
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // cold plugin and WASM builds
	defer cancel()
	s, err := harness.Start(ctx, sluiceBin, nil, "-t", tmpl, "--state-dir", state,
		"--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--max-buffer-interval", "1s", "--limits", "off")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice log:\n%s", s.Log())
		}
	})

	faults := []string{"panic", "hang", "crash", "bomb"}
	const good = 2000
	var entries []types.PutRecordsRequestEntry
	var goodIDs []string
	for i := range good {
		id := fmt.Sprintf("good-%05d", i)
		goodIDs = append(goodIDs, id)
		entries = append(entries, types.PutRecordsRequestEntry{
			PartitionKey: aws.String(fmt.Sprintf("key-%d", i%40)),
			Data:         fmt.Appendf(nil, `{"event_id":%q,"seq":%d}`, id, i),
		})
		if i%500 == 250 { // faults in the middle of the traffic, each under its own key
			f := faults[i/500]
			entries = append(entries, types.PutRecordsRequestEntry{
				PartitionKey: aws.String("fault-" + f),
				Data:         faultRecord(f),
			})
		}
	}
	c := s.Client()
	for len(entries) > 0 {
		n := min(len(entries), 500)
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("faults"), Records: entries[:n]})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("%d records refused", aws.ToInt32(out.FailedRecordCount))
		}
		entries = entries[n:]
	}
	last, err := harness.LastSequenceNumbers(ctx, c, "faults")
	if err != nil {
		t.Fatal(err)
	}
	if err := harness.WaitCheckpointed(ctx, state, last); err != nil {
		t.Fatal(err) // a fault blocked its shard for good
	}
	if err := s.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}

	objs, err := harness.ReadBucket(filepath.Join(state, "buckets", "faults-out"))
	if err != nil {
		t.Fatal(err)
	}
	for _, loader := range []string{"plugin", "wasm"} {
		var mine []harness.Object
		for _, o := range objs {
			if strings.HasPrefix(o.Key, "errors/") {
				t.Fatalf("record in the error output: %s", o.Key)
			}
			if strings.HasPrefix(o.Key, loader+"/") {
				mine = append(mine, o)
			}
		}
		seen := harness.EventIDs(mine)
		if lost := harness.Missing(goodIDs, seen); lost > 0 {
			t.Errorf("%s: %d of %d good records not delivered", loader, lost, good)
		}
		for id, n := range seen {
			if strings.HasPrefix(id, "fault-") {
				if enabled := loader == "wasm" || id == "fault-panic" || id == "fault-hang"; enabled {
					t.Errorf("%s: faulty record %s was delivered", loader, id)
				}
			} else if n != 1 {
				t.Errorf("%s: %s delivered %d times", loader, id, n)
			}
		}
	}

	// The failure bucket holds, per mapping, one record per fault it is
	// subject to, each carrying its payload and none carrying a good record.
	failures, err := harness.ReadBucket(filepath.Join(state, "buckets", "faults-failures"))
	if err != nil {
		t.Fatal(err)
	}
	perFault := map[string]int{}
	var all []string
	for _, o := range failures {
		for _, r := range o.Records {
			rec := string(r)
			all = append(all, rec)
			for _, f := range faults {
				if strings.Contains(rec, base64.StdEncoding.EncodeToString(faultRecord(f))) {
					perFault[f]++
				}
			}
			if strings.Contains(rec, base64.StdEncoding.EncodeToString([]byte(`{"event_id":"good-`))[:20]) {
				t.Errorf("a good record reached the failure bucket: %.300s", rec)
			}
		}
	}
	want := map[string]int{"panic": 2, "hang": 2, "crash": 1, "bomb": 1}
	for f, n := range want {
		if perFault[f] != n {
			t.Errorf("fault %s: %d failure records with its payload, want %d (one per mapping subject to it)", f, perFault[f], n)
		}
	}
	if len(all) != 6 {
		t.Errorf("%d failure records, want 6:\n%s", len(all), strings.Join(all, "\n"))
	}
	// Each fault, once isolated, surfaced as its own Lambda-shaped error.
	errorTypes := map[string]map[string]bool{"FaultyPlugin": {}, "FaultyWasm": {}}
	errType := regexp.MustCompile(`function=(\w+) .* records=1 err="([A-Za-z]+\.[A-Za-z]+):`)
	for _, line := range strings.Split(s.Log(), "\n") {
		if m := errType.FindStringSubmatch(line); m != nil && strings.Contains(line, `msg="function error"`) {
			errorTypes[m[1]][m[2]] = true
		}
	}
	for fn, types := range map[string][]string{
		"FaultyPlugin": {"Runtime.Panic", "Sandbox.Timedout"},
		"FaultyWasm":   {"Runtime.Panic", "Runtime.ExitError", "Runtime.OutOfMemory", "Sandbox.Timedout"},
	} {
		for _, typ := range types {
			if !errorTypes[fn][typ] {
				t.Errorf("%s: no isolated invocation failed with %s (saw %v)", fn, typ, errorTypes[fn])
			}
		}
	}
	if t.Failed() {
		return
	}

	// The fix: no more faults. Redrive replays every failure successfully
	// (directly on the state dir: sluice up is stopped) and delivers the
	// repaired records to each function's delivery stream, once.
	edit(t, tmpl, "FAULTS: panic,hang,crash,bomb", `FAULTS: ""`)
	edit(t, tmpl, "FAULTS: panic,hang", `FAULTS: ""`)
	summary := regexp.MustCompile(`(\d+) delivered to .*, (\d+) failed again`)
	for fn, n := range map[string]int{"FaultyPlugin": 2, "FaultyWasm": 4} {
		code, out, stderr := sluiceCmd(t, "redrive", fn, "-t", tmpl, "--state-dir", state)
		if code != 0 {
			t.Fatalf("redrive %s: exit %d\n%s\n%s", fn, code, out, stderr)
		}
		m := summary.FindStringSubmatch(out)
		if m == nil || m[1] != fmt.Sprint(n) || m[2] != "0" {
			t.Errorf("redrive %s: want %d delivered, 0 failed again:\n%s", fn, n, out)
		}
		t.Logf("redrive %s: %s", fn, strings.TrimSpace(out))
	}
	objs, err = harness.ReadBucket(filepath.Join(state, "buckets", "faults-out"))
	if err != nil {
		t.Fatal(err)
	}
	for loader, redriven := range map[string][]string{
		"plugin": {"panic", "hang"},
		"wasm":   {"panic", "hang", "crash", "bomb"},
	} {
		var mine []harness.Object
		for _, o := range objs {
			if strings.HasPrefix(o.Key, loader+"/") {
				mine = append(mine, o)
			}
		}
		seen := harness.EventIDs(mine)
		for _, f := range redriven {
			if n := seen["fault-"+f]; n != 1 {
				t.Errorf("%s: redriven record fault-%s delivered %d times, want once", loader, f, n)
			}
		}
	}
}

func faultRecord(fault string) []byte {
	return fmt.Appendf(nil, `{"event_id":"fault-%s","fault":%q}`, fault, fault)
}

// faultsWorkdir lays out the fault suite's app inside the module (plugins
// build against the host's module) so the test can edit it.
func faultsWorkdir(t *testing.T) string {
	t.Helper()
	base := filepath.Join(repoRoot, "e2e", "testdata")
	dir, err := os.MkdirTemp(base, "work-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	copyTree(t, filepath.Join(base, "faulty"), filepath.Join(dir, "functions", "faulty"))
	data, err := os.ReadFile(filepath.Join(base, "faults.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "template.yaml"), string(data))
	return dir
}
