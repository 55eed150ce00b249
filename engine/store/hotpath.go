package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The hot path: the statements every run makes (accepting its event, claiming it, its checkpoints,
// deleting its outbox row), in plain SQL on the transaction's connection, without gorm building
// statements by reflection. On Postgres each is one round trip (data-modifying CTEs; the steps as
// arrays, so one prepared statement serves any number of them); SQLite, in process, runs the same
// work as a few plain statements. Everything else goes through gorm.
//
// Every function takes the *gorm.DB of an open transaction (the committer's).

func isPostgres(tx *gorm.DB) bool { return tx.Dialector.Name() == "postgres" }

// exec runs a statement written with $n placeholders on the transaction's connection; SQLite gets
// ?n, its numbered form.
func exec(tx *gorm.DB, q string, args ...any) (sql.Result, error) {
	return tx.Statement.ConnPool.ExecContext(ctxOf(tx), rebind(tx, q), args...)
}

func query(tx *gorm.DB, q string, args ...any) (*sql.Rows, error) {
	return tx.Statement.ConnPool.QueryContext(ctxOf(tx), rebind(tx, q), args...)
}

func ctxOf(tx *gorm.DB) context.Context {
	if tx.Statement.Context != nil {
		return tx.Statement.Context
	}
	return context.Background()
}

func rebind(tx *gorm.DB, q string) string {
	if isPostgres(tx) {
		return q
	}
	return strings.ReplaceAll(q, "$", "?")
}

// placeholders returns "($k, $k+1, …)" for n values starting at $k.
func placeholders(b *strings.Builder, k, n int) {
	b.WriteByte('(')
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "$%d", k+i)
	}
	b.WriteByte(')')
}

const runColumns = "id, flow_id, flow_version, event_id, status, dry_run, token, lease, wake_at, COALESCE(error, ''), created_at, updated_at, started_at, finished_at"

// FlowTarget is a flow an event may start: its trigger's event type pattern and published version.
type FlowTarget struct {
	ID        string
	EventType string
	Version   int
}

// EventLookup reads, in one statement, the enabled published trigger.event flows whose pattern is
// the event type or has a wildcard (when flows is set; the caller matches wildcards), and the data
// fields that runs waiting for events of this type match on.
func EventLookup(tx *gorm.DB, typ string, flows bool) (found []FlowTarget, waitFields []string, err error) {
	rows, err := query(tx, `SELECT id, event_type, published_version FROM flows
	WHERE $2 AND enabled = $3 AND published_version > 0 AND trigger_type = 'trigger.event' AND (event_type = $1 OR event_type LIKE '%*%')
UNION ALL SELECT DISTINCT '', field, 0 FROM waits WHERE event_type = $1`, typ, flows, true)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var f FlowTarget
		if err := rows.Scan(&f.ID, &f.EventType, &f.Version); err != nil {
			return nil, nil, err
		}
		if f.ID == "" {
			waitFields = append(waitFields, f.EventType)
		} else {
			found = append(found, f)
		}
	}
	return found, waitFields, rows.Err()
}

// ClaimRun moves the run to running for the task carrying its current token, bumping its lease,
// and reads its event, in one statement on Postgres. It returns a nil run when the task is stale or
// the run finished, and a nil event when the event is gone.
func ClaimRun(tx *gorm.DB, runID, token string, now time.Time) (*Run, *Event, error) {
	if !isPostgres(tx) {
		return claimRunGorm(tx, runID, token, now)
	}
	rows, err := query(tx, `WITH r AS (
	UPDATE runs SET status = 'running', lease = lease + 1, updated_at = $3, started_at = COALESCE(started_at, $3)
	WHERE id = $1 AND token = $2 AND status IN ('queued', 'running', 'waiting')
	RETURNING `+runColumns+`)
SELECT r.*, e.id, e.type, e.source, COALESCE(e.flow_id, ''), e.idempotency_key, e.data, COALESCE(e.headers, ''),
	e.raw_bytes, COALESCE(e.raw_body, ''), e.created_at
FROM r LEFT JOIN events e ON e.id = r.event_id`, runID, token, now)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, nil, rows.Err()
	}
	var (
		run                                  Run
		evID, typ, source, flowID, data, hdr *string
		key                                  *string
		raw                                  []byte
		legacy                               *string
		created                              *time.Time
	)
	if err := rows.Scan(&run.ID, &run.FlowID, &run.FlowVersion, &run.EventID, &run.Status, &run.DryRun, &run.Token, &run.Lease,
		&run.WakeAt, &run.Error, &run.CreatedAt, &run.UpdatedAt, &run.StartedAt, &run.FinishedAt,
		&evID, &typ, &source, &flowID, &key, &data, &hdr, &raw, &legacy, &created); err != nil {
		return nil, nil, err
	}
	if evID == nil {
		return &run, nil, rows.Err()
	}
	ev := &Event{ID: *evID, Type: *typ, Source: *source, FlowID: *flowID, IdempotencyKey: key, Data: *data, Headers: *hdr,
		RawBody: raw, LegacyRawBody: *legacy, CreatedAt: *created}
	return &run, ev, rows.Err()
}

// claimRunGorm is ClaimRun on SQLite, where a statement costs no round trip.
func claimRunGorm(tx *gorm.DB, runID, token string, now time.Time) (*Run, *Event, error) {
	var run Run
	res := tx.Model(&run).Clauses(clause.Returning{}).
		Where("id = ? AND token = ? AND status IN ?", runID, token, []string{RunQueued, RunRunning, RunWaiting}).
		Updates(map[string]any{"status": RunRunning, "lease": gorm.Expr("lease + 1"), "updated_at": now,
			"started_at": gorm.Expr("COALESCE(started_at, ?)", now)})
	if res.Error != nil || res.RowsAffected == 0 {
		return nil, nil, res.Error
	}
	var got []Event
	if err := tx.Where("id = ?", run.EventID).Limit(1).Find(&got).Error; err != nil || len(got) == 0 {
		return &run, nil, err
	}
	return &run, &got[0], nil
}

// FencedWrite is a checkpoint: it updates the run (updated_at and the columns in set) only if the
// run still has this lease and status, and then upserts steps (by run and node). It reports
// fenced when the run no longer matches; then nothing was written. The update's row lock orders it
// against a concurrent claim, so a worker that lost the run cannot write after the new claim.
func FencedWrite(tx *gorm.DB, runID string, lease int64, status string, now time.Time, set map[string]any, steps []Step) (fenced bool, err error) {
	var b strings.Builder
	args := []any{runID, lease, status, now}
	b.WriteString("UPDATE runs SET updated_at = $4")
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys) // one statement text per set of columns, so it is prepared once
	for _, k := range keys {
		args = append(args, set[k])
		fmt.Fprintf(&b, ", %s = $%d", k, len(args))
	}
	b.WriteString(" WHERE id = $1 AND lease = $2 AND status = $3")
	if !isPostgres(tx) {
		res, err := exec(tx, b.String(), args...)
		if err != nil {
			return false, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err == nil, err
		}
		return false, upsertStepsSQLite(tx, steps)
	}
	if len(steps) == 0 {
		res, err := exec(tx, b.String(), args...)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return err == nil && n == 0, err
	}
	// One statement: the fenced update, and the steps inserted only when it matched.
	n := len(args)
	q := "WITH r AS (" + b.String() + " RETURNING id), s AS (INSERT INTO steps (" + stepColumns + `)
	SELECT r.id, v.* FROM r, unnest($` + fmt.Sprint(n+1) + `::text[], $` + fmt.Sprint(n+2) + `::text[], $` + fmt.Sprint(n+3) + `::text[],
		$` + fmt.Sprint(n+4) + `::text[], $` + fmt.Sprint(n+5) + `::text[], $` + fmt.Sprint(n+6) + `::text[], $` + fmt.Sprint(n+7) + `::text[],
		$` + fmt.Sprint(n+8) + `::bigint[], $` + fmt.Sprint(n+9) + `::timestamptz[], $` + fmt.Sprint(n+10) + `::timestamptz[],
		$` + fmt.Sprint(n+11) + `::bigint[], $` + fmt.Sprint(n+12) + `::timestamptz[], $` + fmt.Sprint(n+13) + `::text[]) AS v
	ON CONFLICT (run_id, node_id) DO UPDATE SET ` + stepUpdates + `)
SELECT count(*) FROM r`
	c := stepArrays(steps)
	args = append(args, c.nodeID, c.nodeType, c.status, c.port, c.input, c.output, c.errs, c.attempt, c.started, c.finished, c.duration, c.waitStarted, c.received)
	var matched int
	if err := tx.Statement.ConnPool.QueryRowContext(ctxOf(tx), q, args...).Scan(&matched); err != nil {
		return false, err
	}
	return matched == 0, nil
}

const stepColumns = "run_id, node_id, node_type, status, port, input, output, error, attempt, started_at, finished_at, duration_ms, wait_started, received"

const stepUpdates = `node_type = excluded.node_type, status = excluded.status, port = excluded.port, input = excluded.input,
		output = excluded.output, error = excluded.error, attempt = excluded.attempt, started_at = excluded.started_at,
		finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, wait_started = excluded.wait_started, received = excluded.received`

// stepCols is steps column by column, for unnest.
type stepCols struct {
	nodeID, nodeType, status, port, input, output, errs, received []string
	attempt, duration                                             []int64
	started                                                       []time.Time
	finished, waitStarted                                         []*time.Time
}

func stepArrays(steps []Step) stepCols {
	var c stepCols
	for _, s := range steps {
		c.nodeID = append(c.nodeID, s.NodeID)
		c.nodeType = append(c.nodeType, s.NodeType)
		c.status = append(c.status, s.Status)
		c.port = append(c.port, s.Port)
		c.input = append(c.input, s.Input)
		c.output = append(c.output, s.Output)
		c.errs = append(c.errs, s.Error)
		c.received = append(c.received, s.Received)
		c.attempt = append(c.attempt, int64(s.Attempt))
		c.duration = append(c.duration, s.DurationMs)
		c.started = append(c.started, s.StartedAt)
		c.finished = append(c.finished, s.FinishedAt)
		c.waitStarted = append(c.waitStarted, s.WaitStarted)
	}
	return c
}

// upsertStepsSQLite writes steps in one multi-row upsert.
func upsertStepsSQLite(tx *gorm.DB, steps []Step) error {
	if len(steps) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO steps (" + stepColumns + ") VALUES ")
	args := make([]any, 0, 14*len(steps))
	for i, s := range steps {
		if i > 0 {
			b.WriteString(", ")
		}
		placeholders(&b, len(args)+1, 14)
		args = append(args, s.RunID, s.NodeID, s.NodeType, s.Status, s.Port, s.Input, s.Output, s.Error, s.Attempt,
			s.StartedAt, s.FinishedAt, s.DurationMs, s.WaitStarted, s.Received)
	}
	b.WriteString(" ON CONFLICT (run_id, node_id) DO UPDATE SET " + stepUpdates)
	_, err := exec(tx, b.String(), args...)
	return err
}

// InsertAccepted writes an accepted event, its runs and their outbox rows (one statement on
// Postgres) and sets the outbox rows' ids.
func InsertAccepted(tx *gorm.DB, ev *Event, runs []Run, ds []Dispatch) error {
	var b strings.Builder
	args := []any{ev.ID, ev.Type, ev.Source, ev.FlowID, ev.IdempotencyKey, ev.Data, ev.Headers, ev.RawBody, ev.LegacyRawBody, ev.CreatedAt}
	insertEvent := "INSERT INTO events (id, type, source, flow_id, idempotency_key, data, headers, raw_bytes, raw_body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
	if len(runs) == 0 && len(ds) == 0 {
		_, err := exec(tx, insertEvent, args...)
		return err
	}
	var r strings.Builder
	r.WriteString("INSERT INTO runs (id, flow_id, flow_version, event_id, status, dry_run, token, lease, error, created_at, updated_at) VALUES ")
	var runArgs []any
	for i, run := range runs {
		if i > 0 {
			r.WriteString(", ")
		}
		placeholders(&r, len(runArgs)+1, 11)
		runArgs = append(runArgs, run.ID, run.FlowID, run.FlowVersion, run.EventID, run.Status, run.DryRun, run.Token, run.Lease,
			run.Error, run.CreatedAt, run.UpdatedAt)
	}
	var d strings.Builder
	d.WriteString("INSERT INTO dispatches (run_id, token, process_at, created_at) VALUES ")
	var dArgs []any
	for i, x := range ds {
		if i > 0 {
			d.WriteString(", ")
		}
		placeholders(&d, len(dArgs)+1, 4)
		dArgs = append(dArgs, x.RunID, x.Token, x.ProcessAt, x.CreatedAt)
	}
	d.WriteString(" RETURNING id")
	if !isPostgres(tx) {
		if _, err := exec(tx, insertEvent, args...); err != nil {
			return err
		}
		if len(runs) > 0 {
			if _, err := exec(tx, r.String(), runArgs...); err != nil {
				return err
			}
		}
		if len(ds) == 0 {
			return nil
		}
		return scanIDs(query(tx, d.String(), dArgs...))(ds)
	}
	// Postgres: the three inserts as one statement, the runs' and outbox rows' placeholders
	// numbered after the event's.
	b.WriteString("WITH e AS (" + insertEvent + ")")
	if len(runs) > 0 {
		b.WriteString(", r AS (" + shift(r.String(), len(args)) + ")")
		args = append(args, runArgs...)
	}
	if len(ds) == 0 {
		b.WriteString(" SELECT 1")
		_, err := exec(tx, b.String(), args...)
		return err
	}
	b.WriteString(" " + shift(d.String(), len(args)))
	args = append(args, dArgs...)
	return scanIDs(query(tx, b.String(), args...))(ds)
}

// shift renumbers the $n placeholders of q by k.
func shift(q string, k int) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] != '$' {
			b.WriteByte(q[i])
			continue
		}
		j := i + 1
		n := 0
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			n = n*10 + int(q[j]-'0')
			j++
		}
		fmt.Fprintf(&b, "$%d", n+k)
		i = j - 1
	}
	return b.String()
}

// scanIDs reads one id per outbox row, in the order inserted.
func scanIDs(rows *sql.Rows, err error) func([]Dispatch) error {
	return func(ds []Dispatch) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for i := range ds {
			if !rows.Next() {
				return fmt.Errorf("outbox insert returned %d of %d ids", i, len(ds))
			}
			if err := rows.Scan(&ds[i].ID); err != nil {
				return err
			}
		}
		return rows.Err()
	}
}

// DeleteDispatches deletes outbox rows whose runs the queue has.
func DeleteDispatches(tx *gorm.DB, ids []uint) error {
	if isPostgres(tx) {
		ids64 := make([]int64, len(ids))
		for i, id := range ids {
			ids64[i] = int64(id)
		}
		_, err := exec(tx, "DELETE FROM dispatches WHERE id = ANY($1)", ids64)
		return err
	}
	return tx.Where("id IN ?", ids).Delete(&Dispatch{}).Error
}
