package main

import (
	"errors"
	"io"
)

// cmdStreams is `sluice streams plan|hot`.
func cmdStreams(args []string, stdout, stderr io.Writer) error {
	return errors.New("sluice streams: not implemented yet")
}
