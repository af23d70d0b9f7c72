# Sluice — build, run, test.
#
#   make run     the quick start: the clickstream pipeline, embedded, end to end
#   make test    the whole suite (installs what it needs first)
#   make bench   benchmarks
#   make help    every target with a one-line description
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

.PHONY: all build run test deps vet unit fuzz bench chaos clean help

# Each tools/*.mk may add install steps to DEPS_TARGETS and benchmark or
# chaos steps to BENCH_TARGETS / CHAOS_TARGETS (one file per component, so
# components never edit the same lines).
# `make` alone builds: tools/*.mk, included next, define targets of their
# own, and the first target in the file would otherwise be the default.
.DEFAULT_GOAL := all

DEPS_TARGETS  :=
BENCH_TARGETS :=
CHAOS_TARGETS :=
-include tools/*.mk

## Same as build.
all: build

## Builds bin/sluice and bin/clickstream.
build:
	$(GO) build -o bin/sluice ./cmd/sluice
	$(GO) build -o bin/clickstream ./samples/clickstream

## The quick start: the clickstream pipeline, embedded, end to end.
run: build
	$(GO) run ./samples/quickstart

# Installs the independent Kinesis implementations the tests compare against
# (pinned in tools/npm/package-lock.json) and the Go modules.
## Installs what the tests need (npm peers, tools/*.mk steps, Go modules).
deps: tools/npm/node_modules/.installed $(DEPS_TARGETS)
	$(GO) mod download

tools/npm/node_modules/.installed: tools/npm/package.json tools/npm/package-lock.json
	cd tools/npm && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## go vet ./...
vet:
	$(GO) vet ./...

# go test's own output (ok/FAIL lines, failing tests in full) streams through
# scripts/testsummary, which then lists every skipped test with its reason;
# pipefail keeps go test's exit status. `make unit PKGS=./template/...` runs
# a subset.
## The Go tests with -race, summarised (PKGS=./template/... runs a subset).
unit:
	$(GO) build -o bin/testsummary ./scripts/testsummary
	bash -o pipefail -c '$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -json $(PKGS) | bin/testsummary'

# Each fuzz target runs for FUZZTIME (a smoke run: the seed corpus always
# runs as part of `unit`); scripts/fuzz.sh says how it treats Go 1.26's
# fuzz-coordinator deadline race.
## Each fuzz target for FUZZTIME (a smoke run).
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

## The whole suite: deps, vet, unit, fuzz.
test: deps vet unit fuzz

## Benchmarks: go test -bench ./... plus the tools/*.mk benchmark steps.
bench: build deps $(BENCH_TARGETS)
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## The long fault-injection profiles of tools/*.mk.
chaos: build deps $(CHAOS_TARGETS)

## Removes bin/ and .sluice/.
clean:
	rm -rf bin .sluice

## Lists the targets of this Makefile and tools/*.mk; builds nothing.
help:
	@awk "$$HELP_AWK" Makefile $(sort $(wildcard tools/*.mk))

# make help: a target's description is a "## text" line above it, else the
# first sentence of the comment block above it (blank, .PHONY and
# *_TARGETS += lines may stand between), cut to about 80 characters. Targets whose name holds a variable
# or a path (file targets) are not listed.
define HELP_AWK
FNR == 1 { doc = ""; blk = ""; indef = 0 }
/^define / { indef = 1; next }
/^endef/ { indef = 0; doc = ""; blk = ""; next }
indef { next }
/^## / { doc = substr($$0, 4); next }
/^#/ { l = $$0; sub(/^#[ \t]*/, "", l); if (!inblk) blk = ""; inblk = 1; if (l != "") blk = blk (blk == "" ? "" : " ") l; next }
/^[ \t]*$$/ || /^\.PHONY/ || /_TARGETS[ \t]*\+=/ { inblk = 0; next }
/^[A-Za-z0-9][A-Za-z0-9_.-]*:([^=]|$$)/ {
	name = $$0; sub(/:.*/, "", name)
	d = doc
	if (d == "") { d = blk; if (match(d, /\.( |$$)/)) d = substr(d, 1, RSTART) }
	if (length(d) > 80) { d = substr(d, 1, 77); sub(/ [^ ]*$$/, "", d); d = d "..." }
	if (!(name in seen)) { seen[name] = 1; printf "  %-22s %s\n", name, d }
	doc = ""; blk = ""; inblk = 0; next
}
{ doc = ""; blk = ""; inblk = 0 }
endef
export HELP_AWK
