# The whole test suite: `make test`. Tests that need Postgres and Redis read
# OPSFLOW_TEST_DATABASE_URL / OPSFLOW_TEST_REDIS_ADDR and skip those cases when unset, or fail when CI is set
# (.ci/run sets them).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test check go-test bench faults ui-test run

test: check go-test bench faults ui-test

check:
	@big=$$(git ls-files -z | xargs -0 -r find 2>/dev/null -maxdepth 0 -type f -size +2M); \
	  test -z "$$big" || { echo "tracked files over 2 MB (build output or data?):"; echo "$$big"; exit 1; }
	@! git grep -nE '^(<<<<<<<|>>>>>>>)( |$$)' -- . ':!*.png' || { echo "merge-conflict markers above"; exit 1; }
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go vet -tags faults ./faults/
	go run $(STATICCHECK) ./...

go-test:
	go test -race -count=1 ./...

# The engine benchmarks once each (they must still run; speed is measured by hand, docs/performance.md).
# The bench tool runs briefly in go-test (cmd/opsflow-bench TestQuick).
bench:
	go test -run XXX -bench . -benchtime 1x ./engine/

# The fault-injection suite at small scale (docs/reliability.md): its own Postgres cluster and Redis,
# processes killed and frozen under load; 0 lost, 0 stuck, 0 rewritten runs.
faults:
	go test -tags faults -count=1 -short -timeout 15m ./faults/

ui-test:
	bash builder-ui/ci.sh

run:
	go run ./cmd/opsflow serve
