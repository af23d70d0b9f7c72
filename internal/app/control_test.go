package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestControlTokenIsPrivate: the token file is readable by its owner only,
// and a token found in a file others could read is replaced, since it may
// have leaked (os.WriteFile over an older 0644 file kept the wider mode).
func TestControlTokenIsPrivate(t *testing.T) {
	dir := t.TempDir()
	first, err := controlToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, TokenFile)
	mode := func() os.FileMode {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(); m != 0o600 {
		t.Fatalf("new token file mode %o, want 600", m)
	}
	if again, err := controlToken(dir); err != nil || again != first {
		t.Fatalf("a private token is kept across restarts: got %q, %v", again, err)
	}
	leaked := strings.Repeat("ab", 32)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(leaked+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := controlToken(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got == leaked {
		t.Error("a token others could read was reused")
	}
	if m := mode(); m != 0o600 {
		t.Errorf("token file mode %o after replacing a 644 file, want 600", m)
	}
	if read, err := ReadToken(dir); err != nil || read != got {
		t.Errorf("ReadToken = %q, %v; want the new token", read, err)
	}
}
