# Event-source mapping (triggers/kinesis): benchmarks and longer runs.
# Included by the Makefile; recipes run from the repo root.

BENCH_TARGETS += esm-bench
CHAOS_TARGETS += esm-chaos

.PHONY: esm-bench esm-chaos

# Records/s through a mapping with a no-op function (in-process and over
# HTTP, with the ratio to a bare GetRecords loop measured in the same run),
# and put→invoke latency p50/p99 at 5,000 records/s with batching window 0.
esm-bench:
	$(GO) test -run='^$$' -bench='BenchmarkMappingThroughput' -benchtime=200000x ./triggers/kinesis/
	$(GO) test -run='^$$' -bench='BenchmarkPutToInvokeLatency' -benchtime=1x ./triggers/kinesis/

# The failure-handling property tests with more seeds and records, and the
# filter fuzz target for a minute.
esm-chaos:
	$(GO) test -race -count=5 -run 'Spec1_5|Spec1_9|Spec1_8' ./triggers/kinesis/
	$(GO) test -run='^$$' -fuzz='^FuzzFilter$$' -fuzztime=60s ./triggers/filter/
