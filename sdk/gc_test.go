package sdk

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestTuneGC: a guest's collector gets a memory limit at three quarters of
// MemorySize, unless the function's environment sets GOMEMLIMIT itself;
// GOGC is left alone.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name      string
		env       map[string]string
		wantGOGC  int
		wantLimit int64
	}{
		{"defaults", map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, 100, 96 << 20},
		{"function sets GOGC", map[string]string{"GOGC": "50", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, 100, 96 << 20},
		{"function sets GOMEMLIMIT", map[string]string{"GOMEMLIMIT": "10MiB", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128"}, 100, math.MaxInt64},
		{"no memory size", map[string]string{}, 100, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			tuneGC(env(tc.env))
			// The runtime reads GOGC and GOMEMLIMIT itself at start; tuneGC
			// must leave what they set alone (here: the values set above).
			if got := debug.SetGCPercent(100); got != tc.wantGOGC {
				t.Errorf("GOGC %d, want %d", got, tc.wantGOGC)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
				t.Errorf("memory limit %d, want %d", got, tc.wantLimit)
			}
		})
	}
}
