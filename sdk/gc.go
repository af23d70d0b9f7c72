package sdk

import (
	"runtime/debug"
	"strconv"
)

// guestGCPercent is the GOGC a WASM guest runs with unless its environment
// sets one (Start calls tuneGC in the wasip1 build only; it lives here so
// that it is tested natively). A Go guest collects garbage on its only thread, in the
// invocation that happens to cross the heap goal, and each cycle costs about
// a millisecond whatever little is live; at Go's default the collector ran
// every few batches (every ~4 calls for 1,000-record batches, which allocate
// ~0.8 MB each). Four times the headroom means a quarter of the cycles.
const guestGCPercent = 400

// tuneGC sets the guest's collector from its environment: GOGC and
// GOMEMLIMIT as the function sets them, else guestGCPercent with a memory
// limit at three quarters of the function's MemorySize
// (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), so that the extra headroom never
// turns into an out-of-memory exit that GOGC=100 would have avoided: near
// the limit the collector runs as often as it must.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(guestGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		if mb, err := strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")); err == nil && mb > 0 {
			debug.SetMemoryLimit(int64(mb) << 20 * 3 / 4)
		}
	}
}
