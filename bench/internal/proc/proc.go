// Package proc runs the benchmark's child processes and reads what they
// cost from the kernel: wall time, user and system CPU time and peak
// resident set size, from the rusage wait4 returns (which also covers any
// children the process itself waited for).
package proc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-dev/sluice/internal/harness"
)

// Usage is what one process cost.
type Usage struct {
	WallSeconds float64 `json:"wall_seconds"`
	UserSeconds float64 `json:"user_seconds"`
	SysSeconds  float64 `json:"sys_seconds"`
	MaxRSSMiB   float64 `json:"max_rss_mib"`
}

// CPUSeconds is user + system time.
func (u Usage) CPUSeconds() float64 { return u.UserSeconds + u.SysSeconds }

// UsageOf reads a finished process's rusage; wall is measured by the caller.
func UsageOf(ps *os.ProcessState, wall time.Duration) Usage {
	u := Usage{WallSeconds: wall.Seconds(), UserSeconds: ps.UserTime().Seconds(), SysSeconds: ps.SystemTime().Seconds()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		u.MaxRSSMiB = float64(ru.Maxrss) / 1024 // Linux reports KiB
	}
	return u
}

// Run runs cmd to completion (killed when ctx ends) and returns its usage.
func Run(ctx context.Context, name string, args []string, stdout, stderr io.Writer) (Usage, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if cmd.ProcessState == nil {
		return Usage{}, err
	}
	return UsageOf(cmd.ProcessState, wall), err
}

// Sluice is a running `sluice up` (the harness's Start, keeping the
// *exec.Cmd so that its rusage can be read after it exits).
type Sluice struct {
	Kinesis string            // http://127.0.0.1:port
	Control string            // http://127.0.0.1:port
	Buckets map[string]string // bucket name → directory
	Started time.Time

	cmd     *exec.Cmd
	stderr  *harness.SyncBuffer
	done    chan struct{}
	waitErr error
	wall    time.Duration
}

// StartSluice runs `bin up args...` and returns once it printed its ready line.
func StartSluice(ctx context.Context, bin string, logTo io.Writer, args ...string) (*Sluice, error) {
	cmd := exec.Command(bin, append([]string{"up"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &Sluice{cmd: cmd, stderr: &harness.SyncBuffer{}, done: make(chan struct{}), Buckets: map[string]string{}}
	cmd.Stderr = s.stderr
	if logTo != nil {
		cmd.Stderr = io.MultiWriter(s.stderr, logTo)
	}
	s.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "ready ") {
				select {
				case ready <- line:
				default:
				}
			}
		}
	}()
	go func() { s.waitErr = cmd.Wait(); s.wall = time.Since(s.Started); close(s.done) }()
	select {
	case line := <-ready:
		for _, f := range strings.Fields(line)[1:] {
			k, v, _ := strings.Cut(f, "=")
			switch {
			case k == "kinesis":
				s.Kinesis = v
			case k == "control":
				s.Control = v
			case strings.HasPrefix(k, "bucket:"):
				s.Buckets[strings.TrimPrefix(k, "bucket:")] = v
			}
		}
		if s.Kinesis == "" {
			s.Kill()
			return nil, fmt.Errorf("malformed ready line %q", line)
		}
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("sluice up exited before it was ready (%v):\n%s", s.waitErr, s.Log())
	case <-ctx.Done():
		s.Kill()
		return nil, fmt.Errorf("sluice up not ready: %w\n%s", ctx.Err(), s.Log())
	}
}

// Log returns what the process wrote to stderr so far.
func (s *Sluice) Log() string { return s.stderr.String() }

// Stop sends SIGTERM and waits for a clean exit (drain and flush).
func (s *Sluice) Stop(timeout time.Duration) error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.waitErr != nil {
			return fmt.Errorf("sluice up exited with %v:\n%s", s.waitErr, tail(s.Log(), 4000))
		}
		return nil
	case <-time.After(timeout):
		s.Kill()
		return fmt.Errorf("sluice up did not exit within %s of SIGTERM:\n%s", timeout, tail(s.Log(), 4000))
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (s *Sluice) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Usage is the process's cost from start to exit; valid after Stop or Kill.
func (s *Sluice) Usage() Usage { return UsageOf(s.cmd.ProcessState, s.wall) }

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
