# Function host (runtime/, sdk/): install and benchmark steps.
#
# wabt's wat2wasm rebuilds the hand-written WAT guest; its compiled .wasm is
# committed beside the source, so tests need nothing installed.

DEPS_TARGETS  += runtime-deps
# runtime/wasm's benchmarks already run in `make bench` (go test -bench ./...);
# `make runtime-bench` runs only them.

.PHONY: runtime-deps runtime-bench runtime-wat

## Installs wabt (wat2wasm) if missing; only make runtime-wat needs it.
runtime-deps:
	@command -v wat2wasm >/dev/null 2>&1 || (apt-get install -y wabt >/dev/null 2>&1 || echo "runtime: wabt not installed (only needed by make runtime-wat)")

# Rebuild the hand-written WAT modules (the guest, the instrumenter's test
# modules) from their sources.
runtime-wat:
	for f in runtime/testdata/*/*.wat runtime/wasm/internal/interrupt/testdata/*.wat; do wat2wasm $$f -o $${f%.wat}.wasm; done

# Loader overhead (1/100/1000 records: direct, plugin, WASM), transform
# throughput (enrich and scrub as plugin and WASM, the WAT guest) and WASM
# cold start with and without the compile cache.
runtime-bench:
	$(GO) test -run='^$$' -bench=. -benchtime=2s -benchmem ./runtime/wasm/
