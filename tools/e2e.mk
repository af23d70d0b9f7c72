# The whole-pipeline fault suite's long profile (the short one runs in `make test`).
CHAOS_TARGETS += chaos-kill

.PHONY: chaos-kill
chaos-kill:
	SLUICE_CHAOS_ROUNDS=20 $(GO) test -count=1 -timeout 30m -v -run 'TestKillDuringPuts' ./e2e/

# The object store (versitygw) stopped for 60 s under load, end to end; the
# test also checks that sluice's memory does not grow with the backlog.
CHAOS_TARGETS += chaos-outage

.PHONY: chaos-outage
chaos-outage:
	SLUICE_CHAOS_OUTAGE_SECONDS=60 $(GO) test -count=1 -timeout 15m -v -run 'TestObjectStoreOutageLosesNothing' ./e2e/

# SIGKILL mid-flush against the object store (versitygw): 20 kills, each
# with an object upload held before it reaches the store, half way through
# its body, or after the store answered; every acknowledged click must be in
# S3 exactly once (the short profile, 3 kills, runs in `make test`).
CHAOS_TARGETS += chaos-s3-kill

.PHONY: chaos-s3-kill
chaos-s3-kill: tools/bin/versitygw
	SLUICE_CHAOS_ROUNDS=20 $(GO) test -count=1 -timeout 20m -v -run 'TestKillMidFlushKeepsS3ExactlyOnce' ./e2e/

# Hostile clients for 60 s beside two normal producers (the short profile,
# 8 s, runs in `make test`): every acknowledged click delivered, every attack
# refused, sluice's peak RSS under SLUICE_HOSTILE_RSS_MB.
CHAOS_TARGETS += chaos-hostile

.PHONY: chaos-hostile
chaos-hostile:
	SLUICE_HOSTILE_SECONDS=60 $(GO) test -count=1 -timeout 15m -v -run 'TestHostileClientsCannotTakeThePipelineDown' ./e2e/
