// Package app wires a resolved template plan to running components: the
// embedded stream, the functions, the event-source mappings and the
// delivery streams. It is the one place that knows every concrete part;
// cmd/sluice only turns flags and environment into a Config.
package app

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is everything `sluice up` needs, parsed and validated here.
// Fields carry the SLUICE_* environment variables that set them; flags
// override the environment.
type Config struct {
	Template    string `env:"SLUICE_TEMPLATE" envDefault:"template.yaml"`
	StateDir    string `env:"SLUICE_STATE_DIR" envDefault:".sluice"`
	KinesisAddr string `env:"SLUICE_KINESIS_ADDR" envDefault:"127.0.0.1:4567"`
	// KinesisTLSAddr, when set, serves the same API over TLS (HTTP/2 and
	// HTTP/1.1) with a self-signed certificate written to
	// <state>/kinesis-tls.pem: for clients that reach SubscribeToShard only
	// over HTTP/2 with TLS, as AWS serves it.
	KinesisTLSAddr  string `env:"SLUICE_KINESIS_TLS_ADDR"`
	ControlAddr     string `env:"SLUICE_CONTROL_ADDR" envDefault:"127.0.0.1:4570"`
	Limits          string `env:"SLUICE_LIMITS" envDefault:"on"`
	KinesisEndpoint string `env:"SLUICE_KINESIS_ENDPOINT"`
	S3Endpoint      string `env:"SLUICE_S3_ENDPOINT"`
	// VerifySigV4 lists access-key:secret pairs; when set the embedded
	// Kinesis verifies every request's SigV4 signature against them.
	VerifySigV4        []string          `env:"SLUICE_KINESIS_KEYS" envSeparator:","`
	MaxBufferInterval  time.Duration     `env:"SLUICE_MAX_BUFFER_INTERVAL"`
	MaxLogBytes        int64             `env:"SLUICE_MAX_LOG_BYTES"`
	CacheDir           string            `env:"SLUICE_CACHE_DIR"`
	LogLevel           string            `env:"SLUICE_LOG_LEVEL" envDefault:"info"`
	Watch              bool              `env:"SLUICE_WATCH"`
	ParameterOverrides map[string]string `env:"-"`

	Stdout io.Writer `env:"-"`
	Stderr io.Writer `env:"-"`
}

// ConfigFromEnv returns the defaults overlaid with SLUICE_* variables.
func ConfigFromEnv() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return c, fmt.Errorf("environment: %w", err)
	}
	return c, nil
}

// Validate checks the configuration and fills in writers.
func (c *Config) Validate() error {
	var errs []error
	if c.Template == "" {
		errs = append(errs, errors.New("no template given"))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("no state directory given"))
	}
	for name, addr := range map[string]string{"--kinesis-addr": c.KinesisAddr, "--control-addr": c.ControlAddr, "--kinesis-tls-addr": c.KinesisTLSAddr} {
		if addr == "" && name == "--kinesis-tls-addr" {
			continue // optional
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", name, addr, err))
		}
	}
	switch c.Limits {
	case "on", "off":
	default:
		errs = append(errs, fmt.Errorf("--limits %q: want on or off", c.Limits))
	}
	for _, kv := range c.VerifySigV4 {
		if k, v, ok := strings.Cut(kv, ":"); !ok || k == "" || v == "" {
			errs = append(errs, fmt.Errorf("--verify-sigv4 %q: want ACCESS_KEY:SECRET", kv))
		}
	}
	if c.MaxLogBytes < 0 {
		errs = append(errs, fmt.Errorf("--max-log-bytes %d is negative", c.MaxLogBytes))
	}
	if c.MaxBufferInterval < 0 {
		errs = append(errs, fmt.Errorf("--max-buffer-interval %s is negative", c.MaxBufferInterval))
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	return errors.Join(errs...)
}

func (c *Config) kinesisKeys() map[string]string {
	if len(c.VerifySigV4) == 0 {
		return nil
	}
	keys := map[string]string{}
	for _, kv := range c.VerifySigV4 {
		k, v, _ := strings.Cut(kv, ":")
		keys[k] = v
	}
	return keys
}
