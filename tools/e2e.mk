# The whole-pipeline fault suite's long profile (the short one runs in `make test`).
CHAOS_TARGETS += chaos-kill

.PHONY: chaos-kill
chaos-kill:
	SLUICE_CHAOS_ROUNDS=20 $(GO) test -count=1 -timeout 30m -v -run 'TestKillDuringPuts' ./e2e/
