// Package s3test starts a real S3-compatible server (versitygw, pinned in
// tools/versitygw and installed into tools/bin by `make deps`) for
// integration tests, on 127.0.0.1 with a temporary posix root. Stop and
// Start let a test take the server away mid-stream and bring it back on the
// same port, as an outage would.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
	"github.com/sluice-dev/sluice/sinks/s3"
)

// Credentials the server is started with.
const (
	AccessKey = "sluice-test-access"
	SecretKey = "sluice-test-secret"
)

// Server is one versitygw process (or none, between Stop and Start).
type Server struct {
	t    testing.TB
	bin  string
	root string
	addr string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *bytes.Buffer
}

// Binary finds the versitygw binary: $SLUICE_VERSITYGW, or tools/bin in the
// repository. It returns "" when there is none.
func Binary() string {
	if p := os.Getenv("SLUICE_VERSITYGW"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "tools", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "tools", "versitygw")); err == nil {
				return "" // the repository root, but nothing installed
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Start runs versitygw on a free loopback port with an empty root and
// stops it when the test ends. Without a binary the test fails with the
// command that installs it (`make test` installs it first).
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Fatal("versitygw not installed: run `make deps` (or make -f Makefile tools/bin/versitygw)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{t: t, bin: bin, root: t.TempDir(), addr: addr}
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

// Endpoint is the server's base URL.
func (s *Server) Endpoint() string { return "http://" + s.addr }

// Root is the posix directory holding the buckets.
func (s *Server) Root() string { return s.root }

// Config is an s3.Config for this server.
func (s *Server) Config() s3.Config {
	return s3.Config{Endpoint: s.Endpoint(), Region: "us-east-1", AccessKeyID: AccessKey, SecretAccessKey: SecretKey}
}

// Store returns a client for this server with every bucket in buckets
// created.
func (s *Server) Store(buckets ...string) *s3.Store {
	s.t.Helper()
	st, err := s3.New(context.Background(), s.Config())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, b := range buckets {
		if err := st.EnsureBucket(context.Background(), b); err != nil {
			s.t.Fatal(err)
		}
	}
	return st
}

// Start (re)starts the server on its port and waits until it accepts
// connections.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	// The AWS_* variables of the test environment are not the server's.
	cmd := exec.Command(s.bin, "--port", s.addr, "--access", AccessKey, "--secret", SecretKey, "--quiet", "posix", s.root)
	s.out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start versitygw: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	// versitygw is another process on real time: wait on the wall clock.
	wall := clock.Real()
	deadline := wall.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		poll := wall.NewTimer(20 * time.Millisecond) // polling a port: there is no readiness event
		select {
		case <-done:
			s.t.Fatalf("versitygw exited at start: %s", s.out)
		case <-poll.Chan():
		}
		poll.Stop()
		if wall.Now().After(deadline) {
			s.t.Fatalf("versitygw not listening on %s after 20s: %v\n%s", s.addr, err, s.out)
		}
	}
}

// Stop kills the server (SIGKILL: an outage, not a goodbye) and waits for
// it to exit. Its data stays in Root for the next Start.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Errorf("kill versitygw: %v", err)
	}
	<-s.done
	s.cmd = nil
}

// String describes the server for failure messages.
func (s *Server) String() string { return fmt.Sprintf("versitygw at %s (root %s)", s.addr, s.root) }
