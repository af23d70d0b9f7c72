package streams

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// SelfSignedTLS returns a TLS configuration with a freshly generated
// self-signed certificate for hosts (names or IP addresses; default
// 127.0.0.1 and localhost) offering HTTP/2 and HTTP/1.1 via ALPN, and the
// certificate in PEM for clients to trust.
//
// It exists for clients that speak SubscribeToShard only over HTTP/2 with
// TLS, as AWS serves it (the Java SDK's Netty client): serve Handler() with
// an http.Server using this config. The Go SDK does not need it; it reads
// the event stream over the plain HTTP/1.1 port.
func SelfSignedTLS(hosts ...string) (*tls.Config, []byte, error) {
	certPEM, keyPEM, err := NewTLSCertificate(365*24*time.Hour, hosts...)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := TLSConfig(certPEM, keyPEM)
	return cfg, certPEM, err
}

// NewTLSCertificate returns a self-signed certificate valid for validFor
// and its private key, both in PEM, for hosts (default 127.0.0.1 and
// localhost).
//
// The certificate is a leaf, not a CA: it can only prove the names it
// lists and can sign nothing. Clients are told to trust it (the PEM file
// in the state dir); were it an unconstrained CA, whoever got hold of its
// key could mint certificates those clients would accept for any site.
func NewTLSCertificate(validFor time.Duration, hosts ...string) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		hosts = []string{"127.0.0.1", "localhost"}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate tls key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("generate tls serial: %w", err)
	}
	// TLS clients check validity on their wall clock.
	now := clock.Real().Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sluice embedded kinesis"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create tls certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode tls key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// TLSConfig serves the certificate and key (PEM) with HTTP/2 and HTTP/1.1
// offered by ALPN, TLS 1.2 or later.
func TLSConfig(certPEM, keyPEM []byte) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load tls key pair: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}, nil
}
