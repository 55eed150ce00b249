// Package faults holds the fault-injection suite (issue #9): it builds cmd/opsflow, starts an API
// process and two workers on a throwaway Postgres cluster and Redis of its own, drives thousands of
// runs whose action.http steps call a counting server, and kills, freezes and restarts the parts
// while they run. It is a test behind the "faults" build tag; see docs/reliability.md:
//
//	go test -tags faults -v -count=1 -timeout 30m ./faults/   # full scale: 6 scenarios, ~6,000 runs
//	go test -tags faults -v -count=1 -short ./faults/         # small scale: 4 scenarios, bound 40 s each
package faults
