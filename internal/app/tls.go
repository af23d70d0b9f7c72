package app

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluice-dev/sluice/streams"
)

// serveTLS serves the API on --kinesis-tls-addr with a certificate generated
// for this run (its PEM goes to the state dir for clients to trust).
func (i *instance) serveTLS(eps *Endpoints) (*http.Server, error) {
	host, _, _ := net.SplitHostPort(i.cfg.KinesisTLSAddr)
	hosts := []string{"127.0.0.1", "localhost"}
	if host != "" && !slices.Contains(hosts, host) {
		hosts = append(hosts, host)
	}
	cfg, pemCert, err := streams.SelfSignedTLS(hosts...)
	if err != nil {
		return nil, fmt.Errorf("kinesis tls: %w", err)
	}
	caPath := filepath.Join(i.stateDir, "kinesis-tls.pem")
	if err := os.WriteFile(caPath, pemCert, 0o644); err != nil {
		return nil, fmt.Errorf("kinesis tls: %w", err)
	}
	l, err := net.Listen("tcp", i.cfg.KinesisTLSAddr)
	if err != nil {
		return nil, fmt.Errorf("kinesis tls address: %w", err)
	}
	// ServeTLS with the certificate in TLSConfig negotiates HTTP/2 by ALPN.
	srv := &http.Server{Handler: i.targetRouter(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: cfg}
	go srv.ServeTLS(l, "", "")
	eps.KinesisTLS, eps.KinesisCA = "https://"+l.Addr().String(), caPath
	return srv, nil
}
