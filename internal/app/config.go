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

	"github.com/sluice-dev/sluice/internal/clock"
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
	VerifySigV4 []string `env:"SLUICE_KINESIS_KEYS" envSeparator:","`
	// VerifySigV4File names a file of ACCESS_KEY:SECRET lines (# comments
	// allowed), added to VerifySigV4: secrets stay out of argv and the
	// environment.
	VerifySigV4File   string        `env:"SLUICE_KINESIS_KEYS_FILE"`
	MaxBufferInterval time.Duration `env:"SLUICE_MAX_BUFFER_INTERVAL"`
	Listen            ListenLimits
	// FunctionLogBytes caps each function's log file; past it the file is
	// rotated (one previous file kept). FunctionLogInvokeBytes caps what one
	// invocation may write; the rest is dropped with a note in the log.
	FunctionLogBytes       int64             `env:"SLUICE_FUNCTION_LOG_BYTES" envDefault:"67108864"`
	FunctionLogInvokeBytes int64             `env:"SLUICE_FUNCTION_LOG_INVOKE_BYTES" envDefault:"1048576"`
	MaxLogBytes            int64             `env:"SLUICE_MAX_LOG_BYTES"`
	CacheDir               string            `env:"SLUICE_CACHE_DIR"`
	LogLevel               string            `env:"SLUICE_LOG_LEVEL" envDefault:"info"`
	Watch                  bool              `env:"SLUICE_WATCH"`
	ParameterOverrides     map[string]string `env:"-"`

	Stdout io.Writer `env:"-"`
	Stderr io.Writer `env:"-"`
	// Clock is the one source of time of everything the app builds
	// (default: the wall clock); a test moves a fake one instead of
	// sleeping.
	Clock clock.Clock `env:"-"`
}

// ListenLimits bound what clients can hold on every listener (the Kinesis
// and Firehose API port, its TLS twin and the control address), so a hostile
// or broken client gets a refusal instead of the process's memory or file
// descriptors. The defaults leave room for heavy legitimate producers.
type ListenLimits struct {
	// ReadHeaderTimeout bounds how long a client may take to send headers;
	// ReadTimeout the whole request, body included (a body trickled a byte
	// at a time is cut off).
	ReadHeaderTimeout time.Duration `env:"SLUICE_READ_HEADER_TIMEOUT" envDefault:"10s"`
	ReadTimeout       time.Duration `env:"SLUICE_READ_TIMEOUT" envDefault:"60s"`
	// WriteTimeout bounds writing an answer (streamed answers such as
	// SubscribeToShard set their own deadline).
	WriteTimeout time.Duration `env:"SLUICE_WRITE_TIMEOUT" envDefault:"60s"`
	// IdleTimeout closes keep-alive connections that send nothing.
	IdleTimeout time.Duration `env:"SLUICE_IDLE_TIMEOUT" envDefault:"60s"`
	// MaxConnsPerClient caps open connections from one client address;
	// MaxConns caps them in total per listener (below the process's file
	// descriptor limit).
	MaxConnsPerClient int `env:"SLUICE_MAX_CONNS_PER_CLIENT" envDefault:"1024"`
	MaxConns          int `env:"SLUICE_MAX_CONNS" envDefault:"4096"`
	// MaxInflightBytes is the budget of request bodies held in memory at
	// once across the API port (bodies are reserved as their bytes arrive,
	// never by Content-Length); requests past it wait up to
	// InflightWait, then get 503 ServiceUnavailable.
	MaxInflightBytes int64         `env:"SLUICE_MAX_INFLIGHT_BYTES" envDefault:"268435456"`
	InflightWait     time.Duration `env:"SLUICE_INFLIGHT_WAIT" envDefault:"2s"`
	// MaxHTTP2Streams caps concurrent streams on one HTTP/2 connection.
	MaxHTTP2Streams int `env:"SLUICE_MAX_HTTP2_STREAMS" envDefault:"100"`
	// AllowedHosts are extra Host names the listeners answer besides IP
	// literals, localhost and the names they were bound to (against DNS
	// rebinding).
	AllowedHosts []string `env:"SLUICE_ALLOWED_HOSTS" envSeparator:","`
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
		kv = strings.TrimSpace(kv)
		if k, v, ok := strings.Cut(kv, ":"); !ok || k == "" || v == "" {
			errs = append(errs, fmt.Errorf("--verify-sigv4 %q: want ACCESS_KEY:SECRET", kv))
		}
	}
	if c.VerifySigV4File != "" {
		keys, err := readKeysFile(c.VerifySigV4File)
		if err != nil {
			errs = append(errs, err)
		}
		c.VerifySigV4 = append(c.VerifySigV4, keys...)
		c.VerifySigV4File = "" // read once, even if Validate runs again
	}
	errs = append(errs, c.Listen.validate()...)
	if c.FunctionLogBytes < 0 || c.FunctionLogInvokeBytes < 0 {
		errs = append(errs, fmt.Errorf("function log caps must not be negative"))
	}
	if c.MaxLogBytes < 0 {
		errs = append(errs, fmt.Errorf("--max-log-bytes %d is negative", c.MaxLogBytes))
	}
	if c.MaxBufferInterval < 0 {
		errs = append(errs, fmt.Errorf("--max-buffer-interval %s is negative", c.MaxBufferInterval))
	}
	c.fillDefaults()
	return errors.Join(errs...)
}

// fillDefaults sets what an unset Config field means: the process's
// standard streams and the wall clock.
func (c *Config) fillDefaults() {
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	c.Clock = clock.Or(c.Clock)
}

func (c *Config) kinesisKeys() map[string]string {
	if len(c.VerifySigV4) == 0 {
		return nil
	}
	keys := map[string]string{}
	for _, kv := range c.VerifySigV4 {
		kv = strings.TrimSpace(kv)
		k, v, _ := strings.Cut(strings.TrimSpace(kv), ":")
		keys[k] = v
	}
	return keys
}

func (l *ListenLimits) validate() []error {
	var errs []error
	for name, d := range map[string]time.Duration{"read header timeout": l.ReadHeaderTimeout, "read timeout": l.ReadTimeout, "write timeout": l.WriteTimeout, "idle timeout": l.IdleTimeout, "inflight wait": l.InflightWait} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %s is negative", name, d))
		}
	}
	if l.MaxConnsPerClient < 0 || l.MaxConns < 0 || l.MaxHTTP2Streams < 0 || l.MaxInflightBytes < 0 {
		errs = append(errs, errors.New("listener limits must not be negative (0 means the default)"))
	}
	if l.MaxInflightBytes > 0 && l.MaxInflightBytes < 12<<20 {
		// One request may hold up to 11 MiB (the body the API reads before
		// refusing it as too large); a smaller budget would refuse it forever.
		errs = append(errs, fmt.Errorf("max in-flight bytes %d is below one maximal request (12 MiB)", l.MaxInflightBytes))
	}
	return errs
}

// readKeysFile reads ACCESS_KEY:SECRET lines; blank lines and lines
// starting with # are skipped. The file should be private: a key file others
// can read is refused, as ssh refuses such a private key.
func readKeysFile(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--verify-sigv4-file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("--verify-sigv4-file %s: mode %o lets others read the secrets; chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--verify-sigv4-file: %w", err)
	}
	var keys []string
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); !ok || k == "" || v == "" {
			return nil, fmt.Errorf("--verify-sigv4-file %s line %d: want ACCESS_KEY:SECRET", path, n+1)
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("--verify-sigv4-file %s: no ACCESS_KEY:SECRET lines", path)
	}
	return keys, nil
}

// Now reads the configured clock (the wall clock by default), for a
// command that stamps what it prints.
func (c Config) Now() time.Time { return clock.Or(c.Clock).Now() }

// parseSince reads `sluice redrive --since`: RFC 3339, or a duration back
// from now; "" is the epoch (every failure record).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want RFC 3339 or a duration such as 1h", s)
}
