package main

import (
	"errors"
	"io"
)

// cmdRedrive is `sluice redrive FUNCTION [--since T]`.
func cmdRedrive(args []string, stdout, stderr io.Writer) error {
	return errors.New("sluice redrive: not implemented yet")
}
