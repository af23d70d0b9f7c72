package app

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTLSCertificateKeptAcrossRestarts: the TLS listener's certificate and
// key are written to the state dir (the key 0600) and reused on the next
// start, so clients that trust kinesis-tls.pem keep working; they are
// replaced when they no longer cover the names, are near expiry, or the key
// could be read by others.
func TestTLSCertificateKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	names := []string{"127.0.0.1", "::1", "localhost"}
	now := time.Now()
	first, key, fresh, err := tlsCertificate(dir, names, now)
	if err != nil || !fresh {
		t.Fatalf("first start: fresh=%v, %v", fresh, err)
	}
	fi, err := os.Stat(filepath.Join(dir, TLSKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("key file mode %o, want 600", m)
	}
	onDisk, _ := os.ReadFile(filepath.Join(dir, TLSCertFile))
	if !bytes.Equal(onDisk, first) {
		t.Error("kinesis-tls.pem is not the certificate served")
	}
	leaf := parseCert(t, first)
	if leaf.IsCA {
		t.Error("the certificate is a CA")
	}

	again, key2, fresh, err := tlsCertificate(dir, names, now.Add(time.Hour))
	if err != nil || fresh || !bytes.Equal(again, first) || !bytes.Equal(key2, key) {
		t.Fatalf("restart: fresh=%v, same certificate=%v, same key=%v, %v", fresh, bytes.Equal(again, first), bytes.Equal(key2, key), err)
	}

	for _, tc := range []struct {
		why   string
		names []string
		now   time.Time
		setup func()
	}{
		{"a new name", append(names, "sluice.internal"), now, nil},
		{"near expiry", names, leaf.NotAfter.Add(-tlsRenewBefore / 2), nil},
		{"a key others can read", names, now, func() { os.Chmod(filepath.Join(dir, TLSKeyFile), 0o644) }},
		{"a key that does not match", names, now, func() {
			_, other, _, _ := tlsCertificate(t.TempDir(), names, now)
			os.WriteFile(filepath.Join(dir, TLSKeyFile), other, 0o600)
		}},
	} {
		if tc.setup != nil {
			tc.setup()
		}
		before, _ := os.ReadFile(filepath.Join(dir, TLSCertFile))
		got, _, fresh, err := tlsCertificate(dir, tc.names, tc.now)
		if err != nil || !fresh || bytes.Equal(got, before) {
			t.Errorf("%s: fresh=%v, replaced=%v, %v", tc.why, fresh, !bytes.Equal(got, before), err)
			continue
		}
		c := parseCert(t, got)
		for _, n := range tc.names {
			if err := c.VerifyHostname(n); err != nil {
				t.Errorf("%s: the new certificate does not cover %s: %v", tc.why, n, err)
			}
		}
		if fi, _ := os.Stat(filepath.Join(dir, TLSKeyFile)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: key file mode %o after replacing, want 600", tc.why, fi.Mode().Perm())
		}
	}
}

func parseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("no PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
