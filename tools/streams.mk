# streams/ (the embedded Kinesis): install steps and benchmarks.
#
#   make deps          also installs node-cbor (tools/cbor-npm, pinned), the
#                      independent CBOR codec the CBOR protocol tests use
#   make bench-streams PutRecords/GetRecords throughput against kinesalite and
#                      kinesis-local with the same SDK client, and memory as
#                      the stream grows; prints a table
#   make bench-streams-server
#                      the server alone: PutRecords CPU per record with no
#                      client in the process (steadier than throughput on a
#                      shared machine)

DEPS_TARGETS  += tools/cbor-npm/node_modules/.installed
BENCH_TARGETS += bench-streams

.PHONY: bench-streams bench-streams-server

tools/cbor-npm/node_modules/.installed: tools/cbor-npm/package.json tools/cbor-npm/package-lock.json
	cd tools/cbor-npm && npm ci --no-audit --no-fund --loglevel=error
	touch $@

STREAMS_BENCHTIME ?= 3s

## PutRecords/GetRecords throughput against kinesalite and kinesis-local.
bench-streams: tools/npm/node_modules/.installed
	@mkdir -p bin
	SLUICE_BENCH_PEERS=1 $(GO) test -run='^$$' -bench='^BenchmarkPeers' -benchtime=$(STREAMS_BENCHTIME) -timeout 30m ./streams/ 2>&1 | grep --line-buffered -v 'failed to discard remaining' | tee bin/bench-streams.txt
	@awk "$$STREAMS_BENCH_AWK" bin/bench-streams.txt

## The Kinesis server alone: PutRecords CPU per record.
bench-streams-server:
	$(GO) test -run='^$$' -bench='^BenchmarkPutRecordsServer$$' -benchtime=$(STREAMS_BENCHTIME) -count=3 ./streams/

# bench-streams' table: records/s per server, and Sluice's ratio to the
# faster emulator (goal: >= 20x for PutRecords).
define STREAMS_BENCH_AWK
/^BenchmarkPeers(PutRecords|GetRecords)\// {
	split($$1, p, "/"); op = p[1]; sub("BenchmarkPeers", "", op)
	srv = p[2]; sub(/-[0-9]+$$/, "", srv)
	size = (length(p) > 2) ? p[3] : "1024B"; sub(/-[0-9]+$$/, "", size)
	for (i = 2; i < NF; i++) if ($$(i+1) == "records/s") v = $$i
	row = op " " size; rows[row] = 1; val[row, srv] = v
}
/^BenchmarkPeersMemoryGrowth/ { mem = $$0 }
/^BenchmarkPeersInterleaved/ { for (i = 3; i < NF; i += 2) inter = inter sprintf("  %-32s %s\n", $$(i+1), $$i) }
END {
	printf "\n%-22s %12s %12s %14s %15s %10s\n", "operation", "sluice", "kinesalite", "kinesis-local", "client-ceiling", "ratio"
	for (r in rows) {
		best = val[r, "kinesalite"] + 0; if (val[r, "kinesis-local"] + 0 > best) best = val[r, "kinesis-local"] + 0
		ratio = (best > 0) ? sprintf("%.1fx", val[r, "sluice"] / best) : "-"
		printf "%-22s %12s %12s %14s %15s %10s\n", r, val[r, "sluice"], val[r, "kinesalite"], val[r, "kinesis-local"], val[r, "client-ceiling"], ratio
	}
	if (inter != "") printf "\ninterleaved PutRecords (load changes hit every server alike; quote these ratios):\n%s", inter
	if (mem != "") print "\nmemory: " mem
}
endef
export STREAMS_BENCH_AWK

# kinesalite's API suite (recorded against real Kinesis) against sluice up
# --limits=off: prints "N passing, M failing". Not part of make test. Needs
# kinesalite's test/ directory: tools/kinesalite-suite/README.md.
.PHONY: kinesalite-suite
KINESALITE_TEST_DIR ?=
## kinesalite's API suite against sluice up --limits=off.
kinesalite-suite: tools/kinesalite-suite/node_modules/.installed
	CGO_ENABLED=1 $(GO) build -o bin/sluice ./cmd/sluice
	KINESALITE_TEST_DIR=$(KINESALITE_TEST_DIR) tools/kinesalite-suite/run.sh

tools/kinesalite-suite/node_modules/.installed: tools/kinesalite-suite/package.json tools/kinesalite-suite/package-lock.json
	cd tools/kinesalite-suite && npm ci --no-audit --no-fund --loglevel=error
	touch $@
