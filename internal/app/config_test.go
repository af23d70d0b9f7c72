package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigListenDefaultsAndKeysFile(t *testing.T) {
	t.Setenv("SLUICE_IDLE_TIMEOUT", "3s")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.IdleTimeout != 3*time.Second || c.Listen.ReadHeaderTimeout != 10*time.Second || c.Listen.MaxInflightBytes != 256<<20 || c.FunctionLogBytes != 64<<20 {
		t.Fatalf("listen limits not parsed from the environment and defaults: %+v", c.Listen)
	}
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.WriteFile(keys, []byte("# fleet producers\nAKID:secret\n\n AK2:s2 \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.VerifySigV4File = keys
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.kinesisKeys(); len(got) != 2 || got["AKID"] != "secret" || got["AK2"] != "s2" {
		t.Fatalf("keys from file: %v", got)
	}

	for _, tc := range []struct {
		mode       os.FileMode
		body, want string
	}{
		{0o644, "AK:SK\n", "lets others read"},
		{0o600, "no-colon\n", "line 1: want ACCESS_KEY:SECRET"},
		{0o600, "# only a comment\n", "no ACCESS_KEY:SECRET lines"},
	} {
		bad := filepath.Join(dir, "bad")
		os.Remove(bad)
		if err := os.WriteFile(bad, []byte(tc.body), tc.mode); err != nil {
			t.Fatal(err)
		}
		c, _ := ConfigFromEnv()
		c.VerifySigV4File = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("mode %o %q: error %v, want it to say %q", tc.mode, tc.body, err, tc.want)
		}
	}
	c, _ = ConfigFromEnv()
	c.Listen.MaxInflightBytes = 1 << 20
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "below one maximal request") {
		t.Errorf("a budget below one request: %v", err)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"1h":                   now.Add(-time.Hour),
		"2026-11-26T10:00:00Z": time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("parseSince accepted \"yesterday\"")
	}
}
