# The whole test suite: `make test`. Tests that need Postgres and Redis read
# OPSFLOW_TEST_DATABASE_URL / OPSFLOW_TEST_REDIS_ADDR and skip those cases when unset, or fail when CI is set
# (.ci/run sets them).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test check go-test ui-test run

test: check go-test ui-test

check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go run $(STATICCHECK) ./...

go-test:
	go test -race -count=1 ./...

ui-test:
	bash builder-ui/ci.sh

run:
	go run ./cmd/opsflow serve
