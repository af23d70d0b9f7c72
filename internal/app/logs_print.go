package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/sluice-dev/sluice/internal/clock"
)

// Reading a function's logs back, for `sluice logs`: the files logs.go
// writes, followed across rotations.

// logPoll is how often --follow looks for new lines. It polls: portable,
// and log files are local.
const logPoll = 200 * time.Millisecond

// PrintLogs is `sluice logs`: it copies a function's captured output in
// the state dir to out, the rotated file first; with follow it keeps
// printing what `sluice up` appends until ctx ends.
func PrintLogs(ctx context.Context, cfg Config, function string, out io.Writer, follow bool) error {
	cfg.fillDefaults()
	return printLogs(ctx, cfg.Clock, LogPath(cfg.StateDir, function), RotatedLogPath(cfg.StateDir, function), out, follow)
}

// printLogs copies the rotated log (rotated) and then the current one
// (path) to out, oldest line first. With follow it keeps copying what is
// appended to path until ctx ends, moving on to the new file when `sluice
// up` rotates it.
func printLogs(ctx context.Context, c clock.Clock, path, rotated string, out io.Writer, follow bool) error {
	cur, err := os.Open(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the function's logs: %w", err)
	}
	printed, err := printRotated(rotated, cur, out)
	if err != nil {
		return err
	}
	if cur == nil && !printed && !follow {
		return fmt.Errorf("no logs for this function yet (%s does not exist)", path)
	}
	defer func() {
		if cur != nil {
			cur.Close()
		}
	}()
	if cur != nil {
		if _, err := io.Copy(out, cur); err != nil {
			return fmt.Errorf("read the function's logs: %w", err)
		}
	}
	if !follow {
		return nil
	}
	poll := c.NewTicker(logPoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.Chan():
		}
		if cur, err = follow1(cur, path, out); err != nil {
			return err
		}
	}
}

// printRotated copies the rotated file to out unless it is cur: a rotation
// between opening cur and the rotated file would otherwise print cur's
// lines twice. It says whether there was a rotated file.
func printRotated(rotated string, cur *os.File, out io.Writer) (bool, error) {
	prev, err := os.Open(rotated)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the function's rotated logs: %w", err)
	}
	defer prev.Close()
	if cur != nil && sameFile(prev, cur) {
		return true, nil
	}
	if _, err := io.Copy(out, prev); err != nil {
		return true, fmt.Errorf("read the function's rotated logs: %w", err)
	}
	return true, nil
}

// follow1 copies what was appended to cur since the last call and returns
// the file to follow from now on: path's new file once cur was rotated away
// (after draining cur: the writer is done with it once it is renamed), cur
// rewound if it was truncated, or the first file at path if cur is nil.
func follow1(cur *os.File, path string, out io.Writer) (*os.File, error) {
	if cur != nil {
		if _, err := io.Copy(out, cur); err != nil {
			return cur, fmt.Errorf("read the function's logs: %w", err)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return cur, nil // not there yet, or between a rotation's rename and create
	}
	if cur != nil {
		curSt, err := cur.Stat()
		if err != nil {
			return cur, fmt.Errorf("read the function's logs: %w", err)
		}
		if os.SameFile(st, curSt) {
			if off, err := cur.Seek(0, io.SeekCurrent); err == nil && st.Size() < off {
				_, err = cur.Seek(0, io.SeekStart) // truncated: start over
				return cur, err
			}
			return cur, nil
		}
		if _, err := io.Copy(out, cur); err != nil {
			return cur, fmt.Errorf("read the function's logs: %w", err)
		}
		cur.Close()
	}
	next, err := os.Open(path)
	if err != nil {
		return nil, nil // rotated again already; the next poll opens it
	}
	if _, err := io.Copy(out, next); err != nil {
		return next, fmt.Errorf("read the function's logs: %w", err)
	}
	return next, nil
}

// sameFile reports whether a and b are the same file (same inode).
func sameFile(a, b *os.File) bool {
	sa, err := a.Stat()
	if err != nil {
		return false
	}
	sb, err := b.Stat()
	return err == nil && os.SameFile(sa, sb)
}
