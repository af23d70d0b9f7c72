package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain points every test at one plugin cache, so the sample functions
// build once per run.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-cli-test-*")
	if err != nil {
		panic(err)
	}
	os.Setenv("SLUICE_CACHE_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func sluice(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestLocalInvoke(t *testing.T) {
	tmpl := filepath.Join("..", "..", "template.yaml")
	events := filepath.Join("..", "..", "samples", "events")
	clean, err := os.ReadFile(filepath.Join(events, "kinesis-clickstream.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout func(t *testing.T, doc map[string]any)
		wantStderr string
	}{
		{
			name:     "sample event from a file",
			args:     []string{"local", "invoke", "Enrich", "-t", tmpl, "-e", filepath.Join(events, "kinesis-clickstream.json")},
			wantCode: 0,
			wantStdout: func(t *testing.T, doc map[string]any) {
				recs, _ := doc["records"].([]any)
				if len(recs) != 3 {
					t.Errorf("want 3 output records, got %d: %v", len(recs), doc)
				}
			},
		},
		{
			name:     "event on stdin",
			args:     []string{"local", "invoke", "Enrich", "-t", tmpl, "-e", "-"},
			stdin:    string(clean),
			wantCode: 0,
			wantStdout: func(t *testing.T, doc map[string]any) {
				if _, ok := doc["records"]; !ok {
					t.Errorf("no records in %v", doc)
				}
			},
		},
		{
			name:     "malformed record is a function error",
			args:     []string{"local", "invoke", "Enrich", "-t", tmpl, "-e", filepath.Join(events, "kinesis-clickstream-malformed.json")},
			wantCode: 1,
			wantStdout: func(t *testing.T, doc map[string]any) {
				if msg, _ := doc["errorMessage"].(string); !strings.Contains(msg, "sequence") {
					t.Errorf("error document does not name the record: %v", doc)
				}
				if doc["errorType"] == nil {
					t.Errorf("no errorType in %v", doc)
				}
			},
			wantStderr: "Enrich failed",
		},
		{
			name:     "Scrub as a WASM module",
			args:     []string{"local", "invoke", "Scrub", "-t", tmpl, "-e", filepath.Join(events, "kinesis-clickstream.json")},
			wantCode: 0,
			wantStdout: func(t *testing.T, doc map[string]any) {
				recs, _ := doc["records"].([]any)
				if len(recs) != 3 {
					t.Fatalf("want 3 output records, got %v", doc)
				}
			},
		},
		{
			name:     "Enrich forced to the WASM loader",
			args:     []string{"local", "invoke", "Enrich", "-t", tmpl, "--loader", "wasm", "-e", filepath.Join(events, "kinesis-clickstream.json")},
			wantCode: 0,
			wantStdout: func(t *testing.T, doc map[string]any) {
				if recs, _ := doc["records"].([]any); len(recs) != 3 {
					t.Errorf("want 3 output records, got %v", doc)
				}
			},
		},
		{
			name:       "unknown function",
			args:       []string{"local", "invoke", "Nope", "-t", tmpl},
			wantCode:   1,
			wantStderr: `function "Nope" is not in the template`,
		},
		{
			name:       "event that is not JSON",
			args:       []string{"local", "invoke", "Enrich", "-t", tmpl, "-e", "-"},
			stdin:      "{not json",
			wantCode:   1,
			wantStderr: "is not valid JSON",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := sluice(t, tc.stdin, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.wantStderr)
			}
			if tc.wantStdout == nil {
				if stdout != "" {
					t.Errorf("stdout should be empty, got %q", stdout)
				}
				return
			}
			// Exactly one JSON document on stdout.
			dec := json.NewDecoder(strings.NewReader(stdout))
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				t.Fatalf("stdout is not a JSON document: %v\n%s", err, stdout)
			}
			if dec.More() {
				t.Fatalf("stdout holds more than one document: %s", stdout)
			}
			tc.wantStdout(t, doc)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	if code, _, stderr := sluice(t, ""); code != 2 || !strings.Contains(stderr, "usage") {
		t.Errorf("no args: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := sluice(t, "", "frobnicate"); code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := sluice(t, "", "up", "--limits", "maybe", "-t", "x.yaml"); code != 1 || !strings.Contains(stderr, `--limits "maybe"`) {
		t.Errorf("bad --limits: exit %d, stderr %q", code, stderr)
	}
}

// TestLocalInvokeWindowAndTransformFunctions invokes the sample app's other
// functions with events made by generate-event, piped in on stdin.
func TestLocalInvokeWindowAndTransformFunctions(t *testing.T) {
	tmpl := filepath.Join("..", "..", "template.yaml")
	code, window, stderr := sluice(t, "", "local", "generate-event", "kinesis", "tumbling-window",
		"--count", "40", "--data", `{"event_id":"e","page":"/products/42","event_type":"click"}`, "--final")
	if code != 0 {
		t.Fatalf("generate-event: %s", stderr)
	}
	code, stdout, stderr := sluice(t, window, "local", "invoke", "Anomaly", "-t", tmpl, "-e", "-")
	if code != 0 {
		t.Fatalf("Anomaly: exit %d: %s %s", code, stdout, stderr)
	}
	var resp map[string]any
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil {
		t.Fatalf("Anomaly's response is not JSON: %s", stdout)
	}
	if _, ok := resp["state"]; !ok {
		t.Errorf("a tumbling-window response carries state: %s", stdout)
	}

	code, fh, stderr := sluice(t, "", "local", "generate-event", "kinesis", "kinesis-firehose", "--count", "2",
		"--data", `{"event_id":"e","country":"FR"}`)
	if code != 0 {
		t.Fatalf("generate-event: %s", stderr)
	}
	code, stdout, stderr = sluice(t, fh, "local", "invoke", "CountryPartitioner", "-t", tmpl, "-e", "-")
	if code != 0 || !strings.Contains(stdout, `"country":"FR"`) || !strings.Contains(stdout, `"result":"Ok"`) {
		t.Errorf("CountryPartitioner: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
}

// TestLocalInvokeWasmMounts: a WASM guest reads a file only through a
// directory the template grants with Metadata.Sluice.Mounts.
func TestLocalInvokeWasmMounts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WASM guest")
	}
	kfn, err := filepath.Abs(filepath.Join("..", "..", "runtime", "testdata", "kfn"))
	if err != nil {
		t.Fatal(err)
	}
	etc := t.TempDir()
	if err := os.WriteFile(filepath.Join(etc, "hostname"), []byte("guest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, event, stderr := sluice(t, "", "local", "generate-event", "kinesis", "get-records", "--count", "1", "--data", "file")
	if code != 0 {
		t.Fatalf("generate-event: %s", stderr)
	}
	for _, tc := range []struct {
		name, mounts, want string
	}{
		{"no grant", "", "FILE: DENIED"},
		{"/etc mounted", "        Mounts:\n          /etc: " + etc + "\n", "FILE: OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := filepath.Join(t.TempDir(), "template.yaml")
			body := "Transform: AWS::Serverless-2016-10-31\nResources:\n  Guest:\n    Type: AWS::Serverless::Function\n" +
				"    Metadata:\n      Sluice:\n        Loader: wasm\n" + tc.mounts +
				"    Properties:\n      CodeUri: " + kfn + "\n      Handler: bootstrap\n      Runtime: provided.al2023\n"
			if err := os.WriteFile(tmpl, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := sluice(t, event, "local", "invoke", "Guest", "-t", tmpl, "-e", "-")
			if code != 0 {
				t.Fatalf("exit %d: %s %s", code, stdout, stderr)
			}
			var resp struct {
				Records []struct {
					Data []byte `json:"data"`
				} `json:"records"`
			}
			if err := json.Unmarshal([]byte(stdout), &resp); err != nil || len(resp.Records) != 1 {
				t.Fatalf("response %s: %v", stdout, err)
			}
			if got := string(resp.Records[0].Data); got != tc.want {
				t.Errorf("guest read /etc/hostname: %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLocalInvokeStuckInit: a WASM guest whose main() never returns used
// to hang `local invoke` forever; now its init is stopped after
// --init-timeout, retried inside the invocation, and the command fails
// with Lambda's Sandbox.Timedout, naming the init, within --init-timeout +
// the function's Timeout.
func TestLocalInvokeStuckInit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a WASM guest")
	}
	// kfn, as in TestLocalInvokeWasmMounts: one guest to compile per run.
	kfn, err := filepath.Abs(filepath.Join("..", "..", "runtime", "testdata", "kfn"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := filepath.Join(t.TempDir(), "template.yaml")
	body := "Transform: AWS::Serverless-2016-10-31\nResources:\n  Stuck:\n    Type: AWS::Serverless::Function\n" +
		"    Metadata:\n      Sluice:\n        Loader: wasm\n" +
		"    Properties:\n      CodeUri: " + kfn + "\n      Handler: bootstrap\n      Runtime: provided.al2023\n      Timeout: 1\n" +
		"      Environment:\n        Variables:\n          KFN_INIT: spin\n"
	if err := os.WriteFile(tmpl, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := sluice(t, "", "local", "invoke", "Stuck", "-t", tmpl, "--init-timeout", "300ms")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not Lambda's error document: %s", stdout)
	}
	if msg, _ := doc["errorMessage"].(string); doc["errorType"] != "Sandbox.Timedout" || !strings.Contains(msg, "Task timed out after 1.00 seconds") ||
		!strings.Contains(msg, "init (main) did not finish") {
		t.Errorf("error document %v", doc)
	}
	for _, want := range []string{"sluice: Stuck failed: Sandbox.Timedout", "Phase: init\tStatus: timeout", "Phase: invoke\tStatus: timeout"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code, _, stderr := sluice(t, "", "local", "invoke", "Stuck", "-t", tmpl, "--init-timeout", "0s"); code != 1 || !strings.Contains(stderr, "--init-timeout 0s") {
		t.Errorf("--init-timeout 0s: exit %d, stderr %q", code, stderr)
	}
}
