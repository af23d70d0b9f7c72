// Command faulty is the fault suite's function (e2e/faults_test.go): it
// passes click-like records through to its delivery stream, except records
// whose "fault" field names a failure listed in the FAULTS environment
// variable, on which it fails the way real handlers do:
//
//	panic  the handler panics (recovered by the host: a Runtime.Panic error)
//	hang   the handler never returns (plugin: blocks forever, as on a dead
//	       network call; WASM: spins, so only the host's timeout stops it)
//	crash  a goroutine panics: the whole guest dies (WASM only — in a plugin
//	       it would take the host process down, which is why plugins are
//	       trusted code)
//	bomb   allocates until the memory cap stops it (WASM only: a plugin's
//	       MemorySize is advisory)
//
// Emptying FAULTS is "the fix" the test applies before `sluice redrive`.
package main

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/sluice-dev/sluice/sdk"
)

func main() {
	sdk.Start(handle)
}

var (
	spin  uint64   // written by the WASM hang so the loop is not optimised away
	hoard [][]byte // kept alive by the memory bomb
)

func handle(ctx context.Context, e events.KinesisEvent) (sdk.StreamResponse, error) {
	enabled := strings.Split(sdk.Env(ctx, "FAULTS"), ",")
	out := make([]sdk.OutputRecord, 0, len(e.Records))
	for _, r := range e.Records {
		var rec struct {
			Fault string `json:"fault"`
		}
		_ = json.Unmarshal(r.Kinesis.Data, &rec)
		if rec.Fault != "" && contains(enabled, rec.Fault) {
			fail(rec.Fault)
		}
		out = append(out, sdk.OutputRecord{Data: r.Kinesis.Data})
	}
	return sdk.StreamResponse{Records: out}, nil
}

func fail(fault string) {
	switch fault {
	case "panic":
		panic("faulty: asked to panic")
	case "hang":
		if runtime.GOOS == "wasip1" {
			for {
				spin++
			}
		}
		select {} // a plugin cannot be stopped: block, do not burn a core
	case "crash":
		done := make(chan struct{})
		go func() {
			defer close(done)
			panic("faulty: asked to crash the guest")
		}()
		<-done
	case "bomb":
		for {
			hoard = append(hoard, make([]byte, 1<<20))
			hoard[len(hoard)-1][0] = 1
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.TrimSpace(x) == s {
			return true
		}
	}
	return false
}
