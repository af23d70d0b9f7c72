# Sluice — build, run, test.
#
#   make run     the quick start: the clickstream pipeline, embedded, end to end
#   make test    the whole suite (installs what it needs first)
#   make bench   benchmarks
#
# Go plugins need cgo, and a plugin must be built with the same flags as the
# binary that loads it: sluice builds its plugins mirroring its own build
# settings, so keep CGO_ENABLED=1 and add no -trimpath/-race here unless you
# want them in every plugin too.

GO        ?= go
export CGO_ENABLED := 1
FUZZTIME  ?= 3s
TEST_TIMEOUT ?= 15m
PKGS      ?= ./...

.PHONY: all build run test deps vet unit fuzz bench chaos clean

# Each tools/*.mk may add install steps to DEPS_TARGETS and benchmark or
# chaos steps to BENCH_TARGETS / CHAOS_TARGETS (one file per component, so
# components never edit the same lines).
DEPS_TARGETS  :=
BENCH_TARGETS :=
CHAOS_TARGETS :=
-include tools/*.mk

all: build

build:
	$(GO) build -o bin/sluice ./cmd/sluice
	$(GO) build -o bin/clickstream ./samples/clickstream

run: build
	$(GO) run ./samples/quickstart

# Installs the independent Kinesis implementations the tests compare against
# (pinned in tools/npm/package-lock.json) and the Go modules.
deps: tools/npm/node_modules/.installed $(DEPS_TARGETS)
	$(GO) mod download

tools/npm/node_modules/.installed: tools/npm/package.json tools/npm/package-lock.json
	cd tools/npm && npm ci --no-audit --no-fund --loglevel=error
	touch $@

vet:
	$(GO) vet ./...

# go test's own output (ok/FAIL lines, failing tests in full) streams through
# scripts/testsummary, which then lists every skipped test with its reason;
# pipefail keeps go test's exit status. `make unit PKGS=./template/...` runs
# a subset.
unit:
	$(GO) build -o bin/testsummary ./scripts/testsummary
	bash -o pipefail -c '$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -json $(PKGS) | bin/testsummary'

# Each fuzz target runs for FUZZTIME (a smoke run: the seed corpus always
# runs as part of `unit`); scripts/fuzz.sh says how it treats Go 1.26's
# fuzz-coordinator deadline race.
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

test: deps vet unit fuzz

bench: build deps $(BENCH_TARGETS)
	$(GO) test -run='^$$' -bench=. -benchmem ./...

chaos: build deps $(CHAOS_TARGETS)

clean:
	rm -rf bin .sluice
