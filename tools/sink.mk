# Sink (sinks/firehose, sinks/s3): the S3-compatible server the integration
# tests run against, pinned in tools/versitygw/go.mod (its own module, so
# its dependencies never reach the project's go.mod).

VERSITYGW := tools/bin/versitygw

DEPS_TARGETS  += $(VERSITYGW)
BENCH_TARGETS += bench-sink
CHAOS_TARGETS += chaos-sink

$(VERSITYGW): tools/versitygw/go.mod tools/versitygw/go.sum
	cd tools/versitygw && GOBIN=$(CURDIR)/tools/bin $(GO) install github.com/versity/versitygw/cmd/versitygw
	touch $@

.PHONY: bench-sink chaos-sink

# Delivery-stream throughput and memory (JSON+gzip, Parquet+snappy; 1, 10,
# 500 active partitions), the Parquet writer alone, and the gzip peer.
# Peak memory is reported as the peak-heap-MiB metric.
bench-sink:
	$(GO) test -run='^$$' -bench='Pipeline|PeerGzip|ParquetWriterRows|ConvertRow' -benchtime=200000x -count=1 ./sinks/firehose

# Longer outage of the object store (60 s) and more SIGKILL rounds.
chaos-sink: $(VERSITYGW)
	SLUICE_CHAOS=1 SLUICE_S3_OUTAGE=60s SLUICE_CRASH_ROUNDS=10 $(GO) test -count=1 -timeout 20m -run 'Outage|Crash|SIGKILL' ./sinks/...
