# Function host (runtime/, sdk/): install and benchmark steps.
#
# wabt's wat2wasm rebuilds the hand-written WAT guest; its compiled .wasm is
# committed beside the source, so tests need nothing installed.

DEPS_TARGETS  += runtime-deps
# runtime/wasm's benchmarks already run in `make bench` (go test -bench ./...);
# `make runtime-bench` runs only them.

.PHONY: runtime-deps runtime-bench runtime-wat

runtime-deps:
	@command -v wat2wasm >/dev/null 2>&1 || (apt-get install -y wabt >/dev/null 2>&1 || echo "runtime: wabt not installed (only needed to rebuild runtime/testdata/watfn/upper.wasm)")

# Rebuild the WAT guest from its source.
runtime-wat:
	wat2wasm runtime/testdata/watfn/upper.wat -o runtime/testdata/watfn/upper.wasm

# Loader overhead (1/100/1000 records: direct, plugin, WASM), transform
# throughput (enrich and scrub as plugin and WASM, the WAT guest) and WASM
# cold start with and without the compile cache.
runtime-bench:
	$(GO) test -run='^$$' -bench=. -benchtime=2s -benchmem ./runtime/wasm/
