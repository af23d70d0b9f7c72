// Command sluice runs stream-processing functions the way AWS runs them with
// Kinesis, Lambda event-source mappings and Firehose, on one machine.
//
//	sluice up                      run the template: stream, mappings, functions, delivery streams
//	sluice local invoke FN -e EV   invoke one function once with an event
//	sluice validate                check the template
//	sluice build                   build every function
//
// Every command takes -t/--template (default template.yaml).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sluice-dev/sluice/internal/app"
)

const usage = `usage: sluice <command> [flags]

commands:
  up                       run the template locally (embedded Kinesis, mappings, functions, delivery streams)
  local invoke FUNCTION    invoke a function once: response on stdout, logs on stderr (--loader plugin|wasm)
  local generate-event kinesis get-records|kinesis-firehose|streams-as-source|tumbling-window
                           print a sample event, as SAM does
  streams plan|hot         shards needed for a load; hot shards and the keys behind them
  redrive FUNCTION         replay failed records through the current version and deliver its output, exactly once (--again, --since)
  deploy                   show the change set against a running sluice, confirm, apply (rolls back on failure)
  status                   streams, mappings (iterator age, throughput), delivery stream backlog and flush reasons
  logs FUNCTION [--follow]  a function's captured output (stdout, stderr, log calls) by request ID
  validate [--strict]      check the template and report every error as file:line:col (--strict: against SAM's schema too)
  build                    build every function for its loader (--lambda: AWS Lambda bootstraps too)

Run 'sluice <command> -h' for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "up":
		err = cmdUp(args[1:], stdout, stderr)
	case "local":
		switch {
		case len(args) >= 2 && args[1] == "invoke":
			return cmdLocalInvoke(args[2:], stdin, stdout, stderr)
		case len(args) >= 2 && args[1] == "generate-event":
			err = cmdGenerateEvent(args[2:], stdout, stderr)
		default:
			fmt.Fprintln(stderr, "usage: sluice local invoke FUNCTION [-e FILE|-] | sluice local generate-event kinesis EVENT")
			return 2
		}
	case "streams":
		err = cmdStreams(args[1:], stdout, stderr)
	case "redrive":
		err = cmdRedrive(args[1:], stdout, stderr)
	case "deploy":
		err = cmdDeploy(args[1:], stdin, stdout, stderr)
	case "logs":
		err = cmdLogs(args[1:], stdout, stderr)
	case "status":
		err = cmdStatus(args[1:], stdout, stderr)
	case "validate":
		err = cmdValidate(args[1:], stdout, stderr)
	case "build":
		err = cmdBuildFunctions(args[1:], stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	return 0
}

// newFlagSet returns a flag set with the flags every command shares.
func newFlagSet(name string, stderr io.Writer, cfg *app.Config) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Template, "t", cfg.Template, "template file (shorthand for --template)")
	fs.StringVar(&cfg.Template, "template", cfg.Template, "template file")
	fs.StringVar(&cfg.CacheDir, "cache-dir", cfg.CacheDir, "where built functions are cached (default: the user cache directory)")
	fs.Func("parameter-overrides", "template parameters, as Key=Value pairs separated by spaces (repeatable)", func(s string) error {
		if cfg.ParameterOverrides == nil {
			cfg.ParameterOverrides = map[string]string{}
		}
		for _, kv := range strings.Fields(s) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("%q is not Key=Value", kv)
			}
			cfg.ParameterOverrides[strings.TrimPrefix(k, "ParameterKey=")] = v
		}
		return nil
	})
	return fs
}

func cmdUp(args []string, stdout, stderr io.Writer) error {
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		return err
	}
	fs := newFlagSet("up", stderr, &cfg)
	fs.StringVar(&cfg.StateDir, "state-dir", cfg.StateDir, "directory for streams, checkpoints, buffers and buckets")
	fs.StringVar(&cfg.KinesisAddr, "kinesis-addr", cfg.KinesisAddr, "address of the Kinesis API (127.0.0.1:0 picks a free port)")
	fs.StringVar(&cfg.KinesisTLSAddr, "kinesis-tls-addr", cfg.KinesisTLSAddr, "also serve the Kinesis API over TLS with HTTP/2 here, with a self-signed certificate written to <state-dir>/kinesis-tls.pem (for clients that need HTTP/2 for SubscribeToShard)")
	fs.StringVar(&cfg.ControlAddr, "control-addr", cfg.ControlAddr, "address of /metrics, /healthz and the control API")
	fs.StringVar(&cfg.Limits, "limits", cfg.Limits, "enforce Kinesis shard limits on the embedded stream: on or off")
	fs.StringVar(&cfg.KinesisEndpoint, "kinesis-endpoint", cfg.KinesisEndpoint, "read from an existing Kinesis at this URL (\"aws\" for AWS) instead of the embedded stream")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", cfg.S3Endpoint, "write buckets to an S3-compatible store at this URL (\"aws\" for Amazon S3) instead of <state-dir>/buckets")
	fs.Func("verify-sigv4", "verify SigV4 signatures on the embedded Kinesis with this ACCESS_KEY:SECRET (repeatable; env SLUICE_KINESIS_KEYS=AK:SK,...)", func(s string) error {
		cfg.VerifySigV4 = append(cfg.VerifySigV4, s)
		return nil
	})
	fs.StringVar(&cfg.VerifySigV4File, "verify-sigv4-file", cfg.VerifySigV4File, "read --verify-sigv4 ACCESS_KEY:SECRET lines from this file (mode 0600; env SLUICE_KINESIS_KEYS_FILE)")
	fs.Func("allowed-hosts", "extra Host names the listeners answer besides IP addresses, localhost and the bound names, comma-separated (env SLUICE_ALLOWED_HOSTS)", func(s string) error {
		cfg.Listen.AllowedHosts = append(cfg.Listen.AllowedHosts, strings.Split(s, ",")...)
		return nil
	})
	fs.DurationVar(&cfg.Listen.ReadTimeout, "read-timeout", cfg.Listen.ReadTimeout, "longest a client may take to send one request, body included")
	fs.DurationVar(&cfg.Listen.IdleTimeout, "idle-timeout", cfg.Listen.IdleTimeout, "close keep-alive connections idle this long")
	fs.IntVar(&cfg.Listen.MaxConnsPerClient, "max-conns-per-client", cfg.Listen.MaxConnsPerClient, "open connections one client address may hold on each listener")
	fs.Int64Var(&cfg.Listen.MaxInflightBytes, "max-inflight-bytes", cfg.Listen.MaxInflightBytes, "request body bytes the API port holds in memory at once; past it requests wait, then get 503")
	fs.Int64Var(&cfg.MaxLogBytes, "max-log-bytes", cfg.MaxLogBytes, "cap each delivery stream's write-ahead log (bytes; 0 = no cap): past it the stream refuses batches and the source keeps them, instead of filling the disk")
	fs.DurationVar(&cfg.MaxBufferInterval, "max-buffer-interval", cfg.MaxBufferInterval, "cap every delivery stream's buffer interval (local runs), e.g. 5s")
	fs.BoolVar(&cfg.Watch, "watch", cfg.Watch, "rebuild and swap functions (and apply template changes) when their files change")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.Stdout, cfg.Stderr = stdout, stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Up(ctx, cfg)
}
