package e2e

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/harness"
)

// workdir copies the sample template and its functions to a directory inside
// the module (functions build as plugins of this module), so a test can edit
// them.
func workdir(t *testing.T) string {
	t.Helper()
	base := filepath.Join(repoRoot, "e2e", "testdata") // not in a fresh clone
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(base, "work-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	copyTree(t, filepath.Join(repoRoot, "functions"), filepath.Join(dir, "functions"))
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "template.yaml"), string(data))
	return dir
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	writeFile(t, path, strings.Replace(string(data), old, new, 1))
}

func sluiceCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(sluiceBin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

func TestDeployChangesFunctionAndBatchSizeWithoutLoss(t *testing.T) {
	dir := workdir(t)
	tmpl := filepath.Join(dir, "template.yaml")
	state := t.TempDir()
	ctxStart := func() *harness.Sluice {
		s, err := harness.Start(t.Context(), sluiceBin, nil, "-t", tmpl, "--state-dir", state,
			"--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--max-buffer-interval", "1s",
			"--parameter-overrides", "AnomalyWindowSeconds=2")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("sluice log:\n%s", s.Log())
			}
		})
		return s
	}
	s := ctxStart()

	// The control API refuses a deploy without the token from the state dir.
	resp, err := http.Post(s.Endpoints.Control+"/deploy", "application/json", strings.NewReader(`{"template":"`+tmpl+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("deploy without a token: HTTP %d, want 401", resp.StatusCode)
	}

	// Nothing changed yet: an empty change set fails unless allowed.
	if code, out, _ := sluiceCmd(t, "deploy", "-t", tmpl, "--state-dir", state, "--parameter-overrides", "AnomalyWindowSeconds=2", "--no-confirm"); code == 0 || !strings.Contains(out, "No changes to deploy.") {
		t.Errorf("empty deploy: exit %d, stdout %q", code, out)
	}
	if code, _, stderr := sluiceCmd(t, "deploy", "-t", tmpl, "--state-dir", state, "--parameter-overrides", "AnomalyWindowSeconds=2", "--no-confirm", "--allow-empty"); code != 0 {
		t.Errorf("--allow-empty: exit %d: %s", code, stderr)
	}

	acked := filepath.Join(t.TempDir(), "acked")
	gen := generate(t, s.Endpoints.Kinesis, 6000, acked, "-rate", "2000")
	waitLines(t, acked, 1500)

	// Change the function's code and the mapping's BatchSize while records flow.
	edit(t, filepath.Join(dir, "functions", "enrich", "enrich.go"),
		`Value: deviceClass(ua)}`,
		`Value: deviceClass(ua) + "-v2"}`)
	edit(t, tmpl, "BatchSize: 500", "BatchSize: 250")
	code, out, stderr := sluiceCmd(t, "deploy", "-t", tmpl, "--state-dir", state, "--parameter-overrides", "AnomalyWindowSeconds=2", "--no-confirm")
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"Operation  LogicalResourceId",
		"* Modify   Enrich",
		"AWS::Serverless::Function        False",
		"EnrichClicks.batchSize: 500 -> 250",
		"Enrich.code: ",
		"Deployed: generation 2 is serving",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out)
		}
	}

	// A deploy that cannot build is refused and the old version keeps serving.
	edit(t, filepath.Join(dir, "functions", "enrich", "enrich.go"), "func deviceClass(", "func deviceClass(((")
	if code, out, stderr := sluiceCmd(t, "deploy", "-t", tmpl, "--state-dir", state, "--parameter-overrides", "AnomalyWindowSeconds=2", "--no-confirm"); code == 0 || !strings.Contains(stderr, "nothing changed") {
		t.Errorf("broken deploy: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}

	if err := gen.Wait(); err != nil {
		t.Fatalf("generator: %v\n%s", err, gen.Stderr)
	}
	// Records put after the deploy are all handled by the new version.
	ackedAfter := filepath.Join(t.TempDir(), "acked-after")
	if err := generate(t, s.Endpoints.Kinesis, 500, ackedAfter).Wait(); err != nil {
		t.Fatal(err)
	}
	var st app.Status
	code, out, _ = sluiceCmd(t, "status", "--state-dir", state, "--json")
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Generation != 2 {
		t.Errorf("status after the failed deploy: exit %d, generation %d (want 2)\n%s", code, st.Generation, out)
	}
	drain(t, s, state)

	ids, _ := harness.ReadLines(acked)
	after, _ := harness.ReadLines(ackedAfter)
	objs, err := harness.ReadBucket(filepath.Join(state, "buckets", "clickstream-archive"))
	if err != nil {
		t.Fatal(err)
	}
	seen, v2 := map[string]int{}, map[string]bool{}
	for _, o := range objs {
		for _, rec := range o.Records {
			id := harness.EventID(rec)
			seen[id]++
			if bytes.Contains(rec, []byte(`-v2"`)) {
				v2[id] = true
			}
		}
	}
	lost := harness.Missing(append(ids, after...), seen)
	t.Logf("acknowledged %d while deploying + %d after, delivered %d distinct, %d by the new version, lost %d",
		len(ids), len(after), len(seen), len(v2), lost)
	if lost > 0 {
		t.Fatalf("%d acknowledged records lost across the deploy", lost)
	}
	for _, id := range after {
		if !v2[id] {
			t.Fatalf("record %s, put after the deploy, was not handled by the new version", id)
		}
	}
}

// TestWatchSwapsAChangedFunction edits a function under `sluice up --watch`
// and measures the time from the save to the new version serving.
func TestWatchSwapsAChangedFunction(t *testing.T) {
	dir := workdir(t)
	tmpl := filepath.Join(dir, "template.yaml")
	state := t.TempDir()
	s, err := harness.Start(t.Context(), sluiceBin, nil, "-t", tmpl, "--state-dir", state, "--watch",
		"--kinesis-addr", "127.0.0.1:0", "--control-addr", "127.0.0.1:0", "--max-buffer-interval", "1s",
		"--parameter-overrides", "AnomalyWindowSeconds=2")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Kill()
	saved := time.Now()
	edit(t, filepath.Join(dir, "functions", "enrich", "enrich.go"),
		`Value: deviceClass(ua)}`,
		`Value: deviceClass(ua) + "-watched"}`)
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(s.Log(), "generation 2 serving") {
		if time.Now().After(deadline) {
			t.Fatalf("the edit was not picked up:\n%s", s.Log())
		}
		time.Sleep(50 * time.Millisecond) // polling another process's log
	}
	t.Logf("save → new version serving: %s (includes a plugin build)", time.Since(saved).Round(time.Millisecond))

	acked := filepath.Join(t.TempDir(), "acked")
	if err := generate(t, s.Endpoints.Kinesis, 200, acked).Wait(); err != nil {
		t.Fatal(err)
	}
	drain(t, s, state)
	objs, err := harness.ReadBucket(filepath.Join(state, "buckets", "clickstream-archive"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range objs {
		for _, rec := range o.Records {
			if !bytes.Contains(rec, []byte(`-watched"`)) {
				t.Fatalf("a record put after the swap was handled by the old version: %s", rec)
			}
			n++
		}
	}
	if n != 200 {
		t.Errorf("bucket holds %d records, want 200", n)
	}
}
