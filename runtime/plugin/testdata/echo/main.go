// Command echo is a test function: it echoes its input and reads its
// environment from the context.
package main

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/sluice-dev/sluice/sdk"
)

// stop ends a "spin" call: a timed-out plugin call is abandoned, not
// stopped, so the test releases the core it would otherwise keep busy.
var stop atomic.Bool

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
	case "spin": // a busy loop that ignores ctx, until the test says stop
		for !stop.Load() {
		}
		// Ends by panicking, not returning: runtime.goEngine.Call stores
		// a returned response into a variable its caller has already read
		// (a data race once a timed-out call returns; reported).
		panic("stopped spinning")
	case "stop":
		stop.Store(true)
	}
	return out{Said: e.Say, Greeting: sdk.Env(ctx, "GREETING")}, nil
}

func main() { sdk.Start(handle) }
