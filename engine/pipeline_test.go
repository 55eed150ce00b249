package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

// On Postgres a batch of checkpoints goes as one pipeline: each run's fence is read back (a run
// another worker holds is fenced, the others written); when one statement fails, the whole
// pipeline is rolled back and each write is done again alone, so only the failing one fails.
func TestPipelinedCheckpoints(t *testing.T) {
	if backends := enginetest.Backends(); backends[len(backends)-1] != enginetest.Postgres {
		t.Skip("needs OPSFLOW_TEST_DATABASE_URL")
	}
	// No worker: this test writes the checkpoints itself.
	e, err := engine.Open(enginetest.Config(t, enginetest.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"p","nodes":[
		{"id":"t","type":"trigger.event","config":{"event_type":"order.paid"}},
		{"id":"c","type":"logic.condition","config":{"expression":"event.data.amount > 100"}}],
		"edges":[{"from":"t","to":"c"}]}`))
	ctx := context.Background()
	var runs []string
	for i := 0; i < 4; i++ {
		acc, err := e.AcceptEvent(ctx, "order.paid", map[string]any{"amount": 250.0}, "")
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, acc.RunIDs[0])
	}
	if err := e.Store.DB.Exec("UPDATE runs SET status = ?, lease = 1", store.RunRunning).Error; err != nil {
		t.Fatal(err)
	}
	fnUsed := errors.New("the fallback ran")
	checkpoint := func(run string, lease int64, node string, fenced *bool) (*store.Statement, func(tx *gorm.DB) error) {
		now := time.Now().UTC()
		steps := []store.Step{{RunID: run, NodeID: node, NodeType: "x", Status: store.StepSucceeded, Input: "{}", Output: "{}", Attempt: 1, StartedAt: now, FinishedAt: &now}}
		st := store.FenceStatement(run, lease, store.RunRunning, now, store.RunSet{}, steps, fenced)
		return &st, func(tx *gorm.DB) error {
			var err error
			*fenced, err = e.Store.FencedWrite(tx, run, lease, store.RunRunning, now, store.RunSet{}, steps)
			return err
		}
	}
	stepsOf := func(run string) int64 {
		var n int64
		e.Store.DB.Model(&store.Step{}).Where("run_id = ?", run).Count(&n)
		return n
	}

	// Three runs, the second held by another worker (lease 2): one pipeline, no fallback.
	fenced := make([]bool, 3)
	var pgs []*store.Statement
	var fns []func(tx *gorm.DB) error
	for i, lease := range []int64{1, 2, 1} {
		pg, _ := checkpoint(runs[i], lease, "a", &fenced[i])
		pgs, fns = append(pgs, pg), append(fns, func(*gorm.DB) error { return fnUsed })
	}
	for i, err := range e.CommitBatch(pgs, fns) {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if fenced[0] || !fenced[1] || fenced[2] {
		t.Fatalf("fenced %v, want only the second", fenced)
	}
	if stepsOf(runs[0]) != 1 || stepsOf(runs[1]) != 0 || stepsOf(runs[2]) != 1 {
		t.Fatal("steps written do not follow the fences")
	}

	// A statement that fails rolls its pipeline back; each write is then done alone.
	fenced = make([]bool, 3)
	pgA, fnA := checkpoint(runs[0], 1, "b", &fenced[0])
	pgC, fnC := checkpoint(runs[3], 1, "b", &fenced[2])
	read := func(store.Rows) error { return nil }
	// A write sent only in the pipeline (its fallback does nothing): it must not survive the rollback.
	mark := &store.Statement{SQL: "UPDATE runs SET error = 'pipelined' WHERE id = $1", Args: []any{runs[1]}, Read: read}
	bad := &store.Statement{SQL: "SELECT 1 / 0", Read: read}
	badErr := errors.New("bad write")
	errs := e.CommitBatch([]*store.Statement{pgA, mark, bad, pgC},
		[]func(tx *gorm.DB) error{fnA, func(*gorm.DB) error { return nil }, func(*gorm.DB) error { return badErr }, fnC})
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], badErr) || errs[3] != nil {
		t.Fatalf("errors %v, want only the third's", errs)
	}
	var marked int64
	e.Store.DB.Model(&store.Run{}).Where("error = ?", "pipelined").Count(&marked)
	if marked != 0 {
		t.Fatal("a write of the failed pipeline was committed")
	}
	if stepsOf(runs[0]) != 2 || stepsOf(runs[3]) != 1 || fenced[0] || fenced[2] {
		t.Fatalf("after the fallback: steps %d and %d, fenced %v", stepsOf(runs[0]), stepsOf(runs[3]), fenced)
	}
}
