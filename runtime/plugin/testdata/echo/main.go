// Command echo is a test function: it echoes its input and reads its
// environment from the context.
package main

import (
	"context"
	"errors"

	"github.com/sluice-dev/sluice/sdk"
)

type in struct {
	Say string `json:"say"`
}

type out struct {
	Said     string `json:"said"`
	Greeting string `json:"greeting"`
}

func handle(ctx context.Context, e in) (out, error) {
	switch e.Say {
	case "panic":
		panic("asked to panic")
	case "fail":
		return out{}, errors.New("asked to fail")
	case "hang":
		<-make(chan struct{})
	}
	return out{Said: e.Say, Greeting: sdk.Env(ctx, "GREETING")}, nil
}

func main() { sdk.Start(handle) }
