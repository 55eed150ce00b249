// Package faults holds the fault-injection suite (issue #9): it builds cmd/opsflow, starts an API
// process and two workers on a throwaway Postgres cluster and Redis of its own, drives thousands of
// runs whose action.http steps call a counting server, and kills, freezes and restarts the parts
// while they run. It is a test behind the "faults" build tag; see docs/reliability.md:
//
//	go test -tags faults -v -count=1 -timeout 30m ./faults/          # full scale, several minutes
//	go test -tags faults -v -count=1 -short ./faults/                # small scale for CI, about 90 s
package faults
