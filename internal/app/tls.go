package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/internal/frontdoor"
	"github.com/sluice-dev/sluice/internal/fsutil"
	"github.com/sluice-dev/sluice/streams"
)

const (
	// TLSCertFile is the TLS listener's certificate in the state dir, for
	// clients to trust; TLSKeyFile its private key (mode 0600).
	TLSCertFile = "kinesis-tls.pem"
	TLSKeyFile  = "kinesis-tls-key.pem"
	// tlsValidFor is a new certificate's lifetime; one that expires
	// within tlsRenewBefore is replaced at start-up.
	tlsValidFor    = 365 * 24 * time.Hour
	tlsRenewBefore = 30 * 24 * time.Hour
)

// serveTLS serves the API on --kinesis-tls-addr with the certificate kept
// in the state dir (see tlsCertificate).
func (i *instance) serveTLS(eps *Endpoints) (*frontdoor.Server, error) {
	names := tlsNames(i.cfg.KinesisTLSAddr, i.cfg.Listen.AllowedHosts)
	certPEM, keyPEM, fresh, err := tlsCertificate(i.stateDir, names, i.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("kinesis tls: %w", err)
	}
	if fresh {
		i.log.Info("generated a TLS certificate for the kinesis-tls listener; clients must trust the new file", "file", filepath.Join(i.stateDir, TLSCertFile), "names", names)
	}
	cfg, err := streams.TLSConfig(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("kinesis tls: %w", err)
	}
	// Serving with the certificate in TLSConfig negotiates HTTP/2 by ALPN.
	srv, err := i.listen("kinesis-tls", i.cfg.KinesisTLSAddr, i.targetRouter(), frontdoor.AWSJSON, cfg)
	if err != nil {
		return nil, err
	}
	eps.KinesisTLS, eps.KinesisCA = "https://"+srv.Addr.String(), filepath.Join(i.stateDir, TLSCertFile)
	return srv, nil
}

// tlsNames are the names the certificate covers: the loopback names, the
// host the listener is bound to (unless it is a wildcard such as 0.0.0.0,
// which no client dials) and the operator's --allowed-hosts.
func tlsNames(addr string, allowed []string) []string {
	names := []string{"127.0.0.1", "::1", "localhost"}
	add := func(h string) {
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		if h == "" || slices.Contains(names, h) {
			return
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			return
		}
		names = append(names, h)
	}
	add(addr)
	for _, h := range allowed {
		add(h)
	}
	return names
}

// tlsCertificate returns the certificate and key kept in dir when they are
// still good for names — a leaf (not a CA) covering every name, its key
// private (0600) and matching, not expiring within tlsRenewBefore — and a
// new pair, written there, otherwise (fresh reports which). Keeping it
// means clients told to trust kinesis-tls.pem keep trusting sluice across
// restarts.
func tlsCertificate(dir string, names []string, now time.Time) (certPEM, keyPEM []byte, fresh bool, err error) {
	certPath, keyPath := filepath.Join(dir, TLSCertFile), filepath.Join(dir, TLSKeyFile)
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	if cerr == nil && kerr == nil && privateFile(keyPath) && certStillGood(certPEM, keyPEM, names, now) {
		return certPEM, keyPEM, false, nil
	}
	for _, err := range []error{cerr, kerr} {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, false, err
		}
	}
	certPEM, keyPEM, err = streams.NewTLSCertificate(tlsValidFor, names...)
	if err != nil {
		return nil, nil, false, err
	}
	// The key first: a crash between the two leaves a pair that does not
	// match, which the next start replaces.
	if err := fsutil.WriteFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, nil, false, err
	}
	if err := fsutil.WriteFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, nil, false, err
	}
	return certPEM, keyPEM, true, nil
}

// certStillGood reports whether a kept certificate may serve names now.
func certStillGood(certPEM, keyPEM []byte, names []string, now time.Time) bool {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || leaf.IsCA || now.Before(leaf.NotBefore) || now.Add(tlsRenewBefore).After(leaf.NotAfter) {
		return false
	}
	for _, n := range names {
		if leaf.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// privateFile reports whether only its owner may read path: a key others
// could read may have leaked and is replaced, as the control token is.
func privateFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().Perm()&0o077 == 0
}
