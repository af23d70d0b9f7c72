//go:build tools

// Package tools records the server binaries this module pins (see the
// tool directive in go.mod); it is never built.
package tools
