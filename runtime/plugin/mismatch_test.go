package plugin_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runtime/plugin"
)

// TestRealMismatchIsRefused builds a function binary whose aws-lambda-go is
// not the host's module version (a replace directive swaps in a local copy),
// with the host's flags otherwise, and checks that Load refuses it with a
// message naming the module, both versions and what to do — before
// plugin.Open, which would fail opaquely (or crash, for a toolchain
// mismatch). The file need not be a plugin: the check reads only its build
// information (Load calls CheckFile first), so a plain build keeps the test
// fast.
func TestRealMismatchIsRefused(t *testing.T) {
	host, err := plugin.HostFingerprint()
	if err != nil {
		t.Fatal(err)
	}
	// A test binary's build information lists no modules; give the host the
	// versions a sluice binary built from this go.mod carries.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}} {{.Dir}}", "github.com/aws/aws-lambda-go").Output()
	if err != nil {
		t.Fatalf("locating aws-lambda-go: %v", err)
	}
	hostVersion, lambdaDir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	deps := map[string]string{"github.com/aws/aws-lambda-go": hostVersion}
	for k, v := range host.Deps {
		deps[k] = v
	}
	host.Deps = deps
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/mismatch\n\ngo 1.26\n\nrequire github.com/aws/aws-lambda-go "+hostVersion+"\n\nreplace github.com/aws/aws-lambda-go => "+lambdaDir+"\n")
	write("main.go", "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/aws/aws-lambda-go/events\"\n)\n\nfunc main() { fmt.Println(events.KinesisEvent{}) }\n")
	bin := filepath.Join(dir, "fn.so")
	args := append([]string{"build", "-o", bin}, plugin.BuildFlags(host)...)
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append(plugin.BuildEnv(host), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	err = plugin.CheckFileAgainst(host, bin)
	var mm *plugin.MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("Load = %v, want a MismatchError", err)
	}
	for _, want := range []string{"it uses github.com/aws/aws-lambda-go replaced by " + lambdaDir + ", the host has " + hostVersion, "rebuild the function with this binary (`sluice build`)", bin} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not say %q", err, want)
		}
	}
}
