package app

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// TestWarnExposed: a listener bound beyond loopback logs a warning naming
// what anyone who reaches it gets and whether SigV4 is verified; loopback
// binds stay quiet. A real listener on 0.0.0.0:0 is bound, so the address
// checked is the one the kernel reports.
func TestWarnExposed(t *testing.T) {
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	exposed := l.Addr().String()
	for _, tc := range []struct {
		name, addr string
		sigv4      bool
		want       []string // in the warning; nil: no warning
	}{
		{"kinesis", exposed, false, []string{"kinesis listener bound to " + exposed, "reachable from other machines", "Kinesis and Firehose APIs", "delete streams", "SigV4 signatures are NOT verified", "--verify-sigv4"}},
		{"kinesis", exposed, true, []string{"Kinesis and Firehose APIs", "SigV4 signatures are verified"}},
		{"kinesis-tls", "[::]:4443", false, []string{"over TLS", "NOT verified"}},
		{"control", ":4570", false, []string{"control API", "control token"}},
		{"kinesis", "127.0.0.1:4567", false, nil},
		{"control", "[::1]:4570", false, nil},
		{"kinesis", "localhost:4567", false, nil},
	} {
		var buf bytes.Buffer
		warned := warnExposed(slog.New(slog.NewTextHandler(&buf, nil)), tc.name, tc.addr, tc.sigv4)
		out := buf.String()
		if warned != (tc.want != nil) || (out != "") != warned {
			t.Errorf("%s on %s: warned=%v, log %q", tc.name, tc.addr, warned, out)
			continue
		}
		if warned && !strings.Contains(out, "level=WARN") {
			t.Errorf("%s on %s: not logged as a warning: %s", tc.name, tc.addr, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s on %s: warning lacks %q:\n%s", tc.name, tc.addr, w, out)
			}
		}
		if warned {
			t.Logf("%s", strings.TrimSpace(out))
		}
	}
}

// TestLoginLine: the console URL printed after the ready line carries the
// token, and an address bound to every interface is shown as one a local
// browser opens.
func TestLoginLine(t *testing.T) {
	for control, want := range map[string]string{
		"http://127.0.0.1:4570": "control: open http://127.0.0.1:4570/login?token=abc in a browser (the token is kept in a cookie)",
		"http://0.0.0.0:4570":   "control: open http://127.0.0.1:4570/login?token=abc in a browser (the token is kept in a cookie)",
		"http://[::]:4570":      "control: open http://127.0.0.1:4570/login?token=abc in a browser (the token is kept in a cookie)",
	} {
		if got := loginLine(control, "abc"); got != want {
			t.Errorf("loginLine(%s) = %q, want %q", control, got, want)
		}
	}
	ready := readyLine(Endpoints{Kinesis: "http://127.0.0.1:4567", Control: "http://127.0.0.1:4570"})
	if ready != "ready kinesis=http://127.0.0.1:4567 control=http://127.0.0.1:4570" {
		t.Errorf("the ready line changed: %q", ready)
	}
}

// TestTLSNames: the certificate covers the loopback names, the bound host
// and the allowed hosts, never a wildcard address.
func TestTLSNames(t *testing.T) {
	got := strings.Join(tlsNames("0.0.0.0:4443", []string{"sluice.internal", "localhost:4443"}), ",")
	if got != "127.0.0.1,::1,localhost,sluice.internal" {
		t.Errorf("names for 0.0.0.0 = %s", got)
	}
	got = strings.Join(tlsNames("10.1.2.3:4443", nil), ",")
	if got != "127.0.0.1,::1,localhost,10.1.2.3" {
		t.Errorf("names for 10.1.2.3 = %s", got)
	}
}
