# The whole-pipeline benchmark of issue 8 (bench/README.md): the same N
# generated click events through Sluice's sample pipeline and through
# Benthos doing the equivalent work, plus `sluice local invoke` wall time
# and put→invoke latency at a steady rate. Prints a table and writes
# bench/results/latest.{json,txt,svg}. Runs as part of `make bench`, or
# alone: `make bench-pipeline BENCH_N=200000`.
BENCH_TARGETS += bench-pipeline

BENTHOS_VERSION ?= v4.60.0
BENTHOS_BIN     := bin/benthos-$(BENTHOS_VERSION)
BENCH_N         ?= 1000000
BENCH_TIMEOUT   ?= 40m
# Rounds of the pipeline runs (systems alternate; the table shows medians).
BENCH_REPEAT    ?= 1
# Extra pipelinebench flags, e.g. BENCH_FLAGS='-only benthos,sluice -keep'.
BENCH_FLAGS     ?=

.PHONY: bench-pipeline bench-tools

## The whole-pipeline benchmark: Sluice against Benthos (BENCH_N events).
bench-pipeline: build bench-tools
	timeout --signal=INT --kill-after=60s $(BENCH_TIMEOUT) bin/pipelinebench -n $(BENCH_N) -repeat $(BENCH_REPEAT) -timeout $(BENCH_TIMEOUT) \
		-sluice bin/sluice -benthos $(BENTHOS_BIN) -kfeed bin/kfeed $(BENCH_FLAGS)

# Bench-only tools: never part of DEPS_TARGETS, so `make test` does not pay
# for the Benthos build.
bench-tools: $(BENTHOS_BIN)
	$(GO) build -o bin/kfeed ./bench/cmd/kfeed
	$(GO) build -o bin/pipelinebench ./bench/cmd/pipelinebench

# Benthos: `go install` fails (the module proxy refuses its version list),
# so build it from the downloaded module (~70 s on 2 cores, once). The
# download runs outside this module so that go.mod and go.sum stay as they are.
$(BENTHOS_BIN):
	@mkdir -p bin
	set -e; out="$(CURDIR)/$@"; cd "$${TMPDIR:-/tmp}"; \
	dir=$$(GOFLAGS=-mod=mod GO111MODULE=on $(GO) mod download -json github.com/redpanda-data/benthos/v4@$(BENTHOS_VERSION) \
		| sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir"; cd "$$dir"; CGO_ENABLED=0 $(GO) build -o "$$out.tmp" ./cmd/benthos; mv "$$out.tmp" "$$out"
