package sdk

import (
	"runtime/debug"
	"strconv"
)

// tuneGC gives a WASM guest's collector a memory limit at three quarters of
// the function's MemorySize (AWS_LAMBDA_FUNCTION_MEMORY_SIZE), unless the
// function sets GOMEMLIMIT itself: the host caps linear memory there, and a
// Go runtime that knows the cap collects harder as it nears it instead of
// growing into it and exiting out of memory. (Start calls it in the wasip1
// build only; it lives here so that it is tested natively.)
//
// GOGC stays Go's default. A guest collects on its only thread, ~1 ms a
// cycle however little is live, and GOGC=400 made 1,000-record calls ~15%
// faster, but every pooled instance then held four times the heap: the
// WASM pipeline's peak RSS went from ~230 to 383 MiB.
func tuneGC(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		if mb, err := strconv.Atoi(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")); err == nil && mb > 0 {
			debug.SetMemoryLimit(int64(mb) << 20 * 3 / 4)
		}
	}
}
