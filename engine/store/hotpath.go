package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The hot path: the statements every run makes (accepting its event, claiming it, its checkpoints,
// deleting its outbox row), in plain SQL on the transaction's connection, without gorm building
// statements by reflection. On Postgres each is one round trip (data-modifying CTEs; the steps as
// arrays, so one statement text serves any number of them), prepared and cached by pgx. SQLite, in
// process, runs the same work as a few statements (its driver parses every statement anew, so fewer
// statements, multi-row where they can be, is what counts). Everything else goes through gorm.
//
// Every write method takes the *gorm.DB of an open transaction (the committer's). Statements are
// written with $n placeholders; SQLite gets ?n, its numbered form.

const runColumns = "id, flow_id, flow_version, event_id, status, dry_run, token, lease, wake_at, COALESCE(error, ''), created_at, updated_at, started_at, finished_at"

const eventColumns = "id, type, source, COALESCE(flow_id, ''), idempotency_key, data, COALESCE(headers, ''), raw_bytes, COALESCE(raw_body, ''), created_at, COALESCE(traceparent, '')"

const stepColumns = "run_id, node_id, node_type, status, port, input, output, error, attempt, started_at, finished_at, duration_ms, wait_started, received"

const stepUpdates = `node_type = excluded.node_type, status = excluded.status, port = excluded.port, input = excluded.input,
	output = excluded.output, error = excluded.error, attempt = excluded.attempt, started_at = excluded.started_at,
	finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, wait_started = excluded.wait_started, received = excluded.received`

const (
	qClaim = `UPDATE runs SET status = 'running', lease = lease + 1, updated_at = $3, started_at = COALESCE(started_at, $3)
	WHERE id = $1 AND token = $2 AND status IN ('queued', 'running', 'waiting') RETURNING ` + runColumns
	// qClaimEvent is qClaim with the run's event, on Postgres.
	qClaimEvent = "WITH r AS (" + qClaim + `) SELECT r.*, e.id, e.type, e.source, COALESCE(e.flow_id, ''), e.idempotency_key,
	e.data, COALESCE(e.headers, ''), e.raw_bytes, COALESCE(e.raw_body, ''), e.created_at, COALESCE(e.traceparent, '') FROM r LEFT JOIN events e ON e.id = r.event_id`
	qEvent = "SELECT " + eventColumns + " FROM events WHERE id = $1"
	// qFence changes the columns given (NULL: unchanged) only if the run still has this lease and status.
	// With a claim token ($12), it also claims the run: lease + 1 ($10), started_at set ($11).
	qFence = `UPDATE runs SET updated_at = $4, status = COALESCE($5, status), error = COALESCE($6, error), token = COALESCE($7, token),
	wake_at = COALESCE($8, wake_at), finished_at = COALESCE($9, finished_at), lease = lease + $10, started_at = COALESCE(started_at, $11)
	WHERE id = $1 AND lease = $2 AND status = $3 AND token = COALESCE($12, token)`
	qInsertEvent = "INSERT INTO events (id, type, source, flow_id, idempotency_key, data, headers, raw_bytes, raw_body, created_at, traceparent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
	runInsert    = "INSERT INTO runs (id, flow_id, flow_version, event_id, status, dry_run, token, lease, error, created_at, updated_at) VALUES "
	dispInsert   = "INSERT INTO dispatches (run_id, token, process_at, created_at) VALUES "
	qLookup      = `SELECT id, event_type, published_version FROM flows
	WHERE $2 AND enabled = $3 AND published_version > 0 AND trigger_type = 'trigger.event' AND (event_type = $1 OR event_type LIKE '%*%')
UNION ALL SELECT DISTINCT '', field, 0 FROM waits WHERE event_type = $1`
)

func isPostgres(tx *gorm.DB) bool { return tx.Dialector.Name() == "postgres" }

// Postgres reports whether the store is on Postgres (else SQLite).
func (s *Store) Postgres() bool { return isPostgres(s.DB) }

func ctxOf(tx *gorm.DB) context.Context {
	if tx.Statement.Context != nil {
		return tx.Statement.Context
	}
	return context.Background()
}

// exec runs q on the transaction's connection (pgx prepares and caches statements itself).
func (s *Store) exec(tx *gorm.DB, q string, args ...any) (sql.Result, error) {
	return tx.Statement.ConnPool.ExecContext(ctxOf(tx), rebind(tx, q), args...)
}

func (s *Store) query(tx *gorm.DB, q string, args ...any) (*sql.Rows, error) {
	return tx.Statement.ConnPool.QueryContext(ctxOf(tx), rebind(tx, q), args...)
}

// rebind turns $n placeholders into SQLite's ?n.
func rebind(tx *gorm.DB, q string) string {
	if isPostgres(tx) {
		return q
	}
	return strings.ReplaceAll(q, "$", "?")
}

// FlowTarget is a flow an event may start: its trigger's event type pattern and published version.
type FlowTarget struct {
	ID        string
	EventType string
	Version   int
}

// EventLookup reads, in one statement, the enabled published trigger.event flows whose pattern is
// the event type or has a wildcard (when flows is set; the caller matches wildcards), and the data
// fields that runs waiting for events of this type match on.
func (s *Store) EventLookup(tx *gorm.DB, typ string, flows bool) (found []FlowTarget, waitFields []string, err error) {
	rows, err := s.query(tx, qLookup, typ, flows, true)
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
// and reads its event (one statement on Postgres). It returns a nil run when the task is stale or
// the run finished, and a nil event when the event is gone.
func (s *Store) ClaimRun(tx *gorm.DB, runID, token string, now time.Time) (*Run, *Event, error) {
	q := qClaim
	if isPostgres(tx) {
		q = qClaimEvent
	}
	rows, err := s.query(tx, q, runID, token, now)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, nil, rows.Err()
	}
	var run Run
	dest := []any{&run.ID, &run.FlowID, &run.FlowVersion, &run.EventID, &run.Status, &run.DryRun, &run.Token, &run.Lease,
		&run.WakeAt, &run.Error, &run.CreatedAt, &run.UpdatedAt, &run.StartedAt, &run.FinishedAt}
	if !isPostgres(tx) {
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, err
		}
		rows.Close()
		if rows, err = s.query(tx, qEvent, run.EventID); err != nil {
			return nil, nil, err
		}
		defer rows.Close()
		if !rows.Next() {
			return &run, nil, rows.Err()
		}
		dest = nil
	}
	ev, evDest := eventDest()
	if err := rows.Scan(append(dest, evDest...)...); err != nil {
		return nil, nil, err
	}
	return &run, ev(), rows.Err()
}

// eventDest is scan destinations for eventColumns (NULLs allowed: a left join), and the event
// they make, nil when the row had none.
func eventDest() (func() *Event, []any) {
	var (
		id, typ, source, flowID, data, hdr, legacy, tp *string
		key                                            *string
		raw                                            []byte
		created                                        *time.Time
	)
	return func() *Event {
		if id == nil {
			return nil
		}
		return &Event{ID: *id, Type: *typ, Source: *source, FlowID: *flowID, IdempotencyKey: key, Data: *data, Headers: *hdr,
			RawBody: raw, LegacyRawBody: *legacy, CreatedAt: *created, Traceparent: *tp}
	}, []any{&id, &typ, &source, &flowID, &key, &data, &hdr, &raw, &legacy, &created, &tp}
}

// RunSet is what a checkpoint changes on its run besides updated_at; nil fields stay as they are.
type RunSet struct {
	Status, Error, Token *string
	WakeAt, FinishedAt   *time.Time
	// Claim, on the first write of a run never claimed (fenced on lease 0 and status queued), is
	// the token its task carries: the write is then the claim too (token checked, lease bumped,
	// started_at set), so a fresh run needs no commit of its own to be claimed.
	Claim *string
}

// FencedWrite is a checkpoint: it updates the run (updated_at and set) only if the run still has
// this lease and status, and then upserts steps (by run and node). It reports fenced when the run
// no longer matches; then nothing was written. The update's row lock orders it against a
// concurrent claim, so a worker that lost the run cannot write after the new claim.
func (s *Store) FencedWrite(tx *gorm.DB, runID string, lease int64, status string, now time.Time, set RunSet, steps []Step) (fenced bool, err error) {
	if isPostgres(tx) {
		// One statement, the steps inserted only when the fenced update matched.
		err = s.run(tx, FenceStatement(runID, lease, status, now, set, steps, &fenced))
		return fenced && err == nil, err
	}
	res, err := s.exec(tx, qFence, fenceArgs(runID, lease, status, now, set)...)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err == nil, err
	}
	if len(steps) == 0 {
		return false, nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO steps (" + stepColumns + ") VALUES ")
	var args []any
	for i, st := range steps {
		args = values(&b, i, args, []any{st.RunID, st.NodeID, st.NodeType, st.Status, st.Port, st.Input, st.Output, st.Error,
			st.Attempt, st.StartedAt, st.FinishedAt, st.DurationMs, st.WaitStarted, st.Received})
	}
	b.WriteString(" ON CONFLICT (run_id, node_id) DO UPDATE SET " + stepUpdates)
	_, err = s.exec(tx, b.String(), args...)
	return false, err
}

// FenceStatement is FencedWrite on Postgres as a Statement, for a pipelined batch; reading its
// result sets fenced.
func FenceStatement(runID string, lease int64, status string, now time.Time, set RunSet, steps []Step, fenced *bool) Statement {
	q, args := fenceQuery(runID, lease, status, now, set, steps)
	return Statement{SQL: q, Args: args, Read: func(rows Rows) error {
		var matched int
		for rows.Next() {
			if err := rows.Scan(&matched); err != nil {
				return err
			}
		}
		*fenced = matched == 0
		return rows.Err()
	}}
}

// Statement is one hot-path statement on Postgres: its text, its arguments and Read, which reads
// its result. The store runs it in a transaction (run); the committer sends the statements of a
// batch in one pipeline (see engine/commit.go).
type Statement struct {
	SQL  string
	Args []any
	Read func(rows Rows) error
}

// Rows is what Read needs of a result: both database/sql's rows and pgx's have it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// run runs st on the transaction's connection and reads its result.
func (s *Store) run(tx *gorm.DB, st Statement) error {
	rows, err := s.query(tx, st.SQL, st.Args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return st.Read(rows)
}

func fenceArgs(runID string, lease int64, status string, now time.Time, set RunSet) []any {
	bump, started := int64(0), (*time.Time)(nil)
	if set.Claim != nil {
		bump, started = 1, &now
	}
	return []any{runID, lease, status, now, set.Status, set.Error, set.Token, set.WakeAt, set.FinishedAt, bump, started, set.Claim}
}

// fenceQuery is the Postgres checkpoint statement and its arguments: it returns 1 if the run
// matched (and was written), else 0.
func fenceQuery(runID string, lease int64, status string, now time.Time, set RunSet, steps []Step) (string, []any) {
	args := fenceArgs(runID, lease, status, now, set)
	if len(steps) == 0 {
		return qFenceCount, args
	}
	c := stepArrays(steps)
	q := qFenceSteps
	if lease == 0 && set.Claim != nil {
		// The claim of a run never claimed: no execution can have written a step of it (every
		// step write is fenced on a claimed lease), so its steps are inserted without looking for
		// earlier ones (ON CONFLICT costs a speculative insertion and a confirmation record a row).
		q = qClaimSteps
	}
	return q, append(args, c.nodeID, c.nodeType, c.status, c.port, c.input, c.output, c.errs, c.attempt, c.started, c.finished, c.duration, c.waitStarted, c.received)
}

const qFenceCount = "WITH r AS (" + qFence + " RETURNING id) SELECT count(*) FROM r"

const qStepRows = "WITH r AS (" + qFence + " RETURNING id), s AS (INSERT INTO steps (" + stepColumns + `)
	SELECT r.id, v.* FROM r, unnest($13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
		$20::bigint[], $21::timestamptz[], $22::timestamptz[], $23::bigint[], $24::timestamptz[], $25::text[]) AS v`

const qFenceSteps = qStepRows + `
	ON CONFLICT (run_id, node_id) DO UPDATE SET ` + stepUpdates + `)
SELECT count(*) FROM r`

const qClaimSteps = qStepRows + `)
SELECT count(*) FROM r`

// stepCols is steps column by column, for unnest.
type stepCols struct {
	nodeID, nodeType, status, port, input, output, errs, received []string
	attempt, duration                                             []int64
	started                                                       []time.Time
	finished, waitStarted                                         []*time.Time
}

func stepArrays(steps []Step) stepCols {
	n := len(steps)
	c := stepCols{
		nodeID: make([]string, 0, n), nodeType: make([]string, 0, n), status: make([]string, 0, n), port: make([]string, 0, n),
		input: make([]string, 0, n), output: make([]string, 0, n), errs: make([]string, 0, n), received: make([]string, 0, n),
		attempt: make([]int64, 0, n), duration: make([]int64, 0, n), started: make([]time.Time, 0, n),
		finished: make([]*time.Time, 0, n), waitStarted: make([]*time.Time, 0, n),
	}
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

// InsertAccepted writes an accepted event, its runs and their outbox rows (one statement on
// Postgres) in the transaction tx and sets the outbox rows' ids.
func (s *Store) InsertAccepted(tx *gorm.DB, ev *Event, runs []Run, ds []Dispatch) error {
	if !isPostgres(tx) {
		if _, err := s.exec(tx, qInsertEvent, eventArgs(ev)...); err != nil {
			return err
		}
		var b strings.Builder
		var args []any
		if len(runs) > 0 {
			b.WriteString(runInsert)
			for i, r := range runs {
				args = values(&b, i, args, runArgs(r))
			}
			if _, err := s.exec(tx, b.String(), args...); err != nil {
				return err
			}
		}
		if len(ds) == 0 {
			return nil
		}
		b.Reset()
		args = nil
		b.WriteString(dispInsert)
		for i, d := range ds {
			args = values(&b, i, args, dispArgs(d))
		}
		b.WriteString(" RETURNING id")
		return s.run(tx, Statement{SQL: b.String(), Args: args, Read: func(rows Rows) error { return readIDs(rows, ds) }})
	}
	// Postgres: the statement of an acceptance without a transaction, less its checks (the caller
	// looked the flows and waiting runs up in this transaction). A taken idempotency key writes
	// nothing there; here it fails the transaction as the unique index would.
	var outcome AcceptOutcome
	if err := s.run(tx, CheckedAcceptStatement(ev, runs, ds, nil, false, &outcome)); err != nil {
		return err
	}
	if outcome == AcceptDuplicate {
		return fmt.Errorf("event %s: %w", ev.ID, gorm.ErrDuplicatedKey)
	}
	return nil
}

// eventArgs stores an empty flow id as NULL, which the partial index on flow_id leaves out (API
// events have none; see migration 12).
func eventArgs(ev *Event) []any {
	var flowID any
	if ev.FlowID != "" {
		flowID = ev.FlowID
	}
	return []any{ev.ID, ev.Type, ev.Source, flowID, ev.IdempotencyKey, ev.Data, ev.Headers, ev.RawBody, ev.LegacyRawBody, ev.CreatedAt, ev.Traceparent}
}

func runArgs(r Run) []any {
	return []any{r.ID, r.FlowID, r.FlowVersion, r.EventID, r.Status, r.DryRun, r.Token, r.Lease, r.Error, r.CreatedAt, r.UpdatedAt}
}

func dispArgs(d Dispatch) []any { return []any{d.RunID, d.Token, d.ProcessAt, d.CreatedAt} }

// values writes the i-th row "($k, …)" of a multi-row VALUES for row and returns args with row.
func values(b *strings.Builder, i int, args, row []any) []any {
	if i > 0 {
		b.WriteString(", ")
	}
	b.WriteByte('(')
	for j := range row {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(b, "$%d", len(args)+j+1)
	}
	b.WriteByte(')')
	return append(args, row...)
}

// readIDs reads one id per outbox row, in the order inserted.
func readIDs(rows Rows, ds []Dispatch) error {
	for i := range ds {
		if !rows.Next() {
			return fmt.Errorf("outbox insert returned %d of %d ids: %v", i, len(ds), rows.Err())
		}
		if err := rows.Scan(&ds[i].ID); err != nil {
			return err
		}
	}
	return rows.Err()
}

// DeleteDispatches deletes outbox rows whose runs the queue has.
func (s *Store) DeleteDispatches(tx *gorm.DB, ids []uint) error {
	if isPostgres(tx) {
		ids64 := make([]int64, len(ids))
		for i, id := range ids {
			ids64[i] = int64(id)
		}
		_, err := s.exec(tx, "DELETE FROM dispatches WHERE id = ANY($1)", ids64)
		return err
	}
	return tx.Where("id IN ?", ids).Delete(&Dispatch{}).Error
}

// FlowSnapshot is every flow an event can start (enabled, published, triggered by events) as of
// generation Gen of the flows (see migration flowGeneration; Postgres only).
type FlowSnapshot struct {
	Gen   int64
	Flows []FlowTarget
}

// One statement, so the generation and the flows are read at the same moment.
const qFlowSnapshot = `SELECT n, '', '', 0 FROM flow_generation WHERE id = 1
UNION ALL SELECT -1, id, event_type, published_version FROM flows WHERE enabled AND published_version > 0 AND trigger_type = 'trigger.event'`

// ReadFlowSnapshot reads the flows events start and their generation (Postgres only). Gen is -1
// when the generation is missing, which no check matches.
func (s *Store) ReadFlowSnapshot(tx *gorm.DB) (*FlowSnapshot, error) {
	rows, err := s.query(tx, qFlowSnapshot)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	snap := &FlowSnapshot{Gen: -1}
	for rows.Next() {
		var n int64
		var f FlowTarget
		if err := rows.Scan(&n, &f.ID, &f.EventType, &f.Version); err != nil {
			return nil, err
		}
		if f.ID == "" {
			snap.Gen = n
		} else {
			snap.Flows = append(snap.Flows, f)
		}
	}
	return snap, rows.Err()
}

// AcceptOutcome is what CheckedAcceptStatement did.
type AcceptOutcome int

const (
	AcceptWritten   AcceptOutcome = iota // event, runs and outbox rows written
	AcceptStale                          // the flows changed since the snapshot the runs were made from: nothing written
	AcceptWaitedOn                       // runs wait for events of this type (waking them needs a transaction): nothing written
	AcceptDuplicate                      // an event with this idempotency key exists: nothing written
)

// qCheckedAccept inserts an event, its runs and their outbox rows only when the flows are still at
// generation $12 (not checked when NULL: the runs' flows were given, or looked up in the same
// transaction) and, when $19, no run waits for events of this type; an event whose idempotency key
// exists is not inserted either. The first
// row says which (run_id ”), the others are the outbox rows' ids. Arrays carry the runs, so one
// statement text serves any number of them.
var qCheckedAccept = `WITH g AS (SELECT $12::bigint IS NOT NULL AND (SELECT n FROM flow_generation WHERE id = 1) IS DISTINCT FROM $12::bigint AS stale,
	$19::boolean AND EXISTS (SELECT 1 FROM waits WHERE event_type = $2::varchar) AS waited),
e AS (INSERT INTO events (id, type, source, flow_id, idempotency_key, data, headers, raw_bytes, raw_body, created_at, traceparent)
	SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::varchar, $6::text, $7::text, $8::bytea, $9::text, $10::timestamptz, $11::varchar
	FROM g WHERE NOT g.stale AND NOT g.waited ON CONFLICT DO NOTHING RETURNING id),
r AS (INSERT INTO runs (id, flow_id, flow_version, event_id, status, dry_run, token, lease, error, created_at, updated_at)
	SELECT u.id, u.flow_id, u.version, e.id, $17::varchar, u.dry_run, $18::varchar, 0, '', $10::timestamptz, $10::timestamptz
	FROM e, unnest($13::varchar[], $14::varchar[], $15::bigint[], $16::boolean[]) AS u(id, flow_id, version, dry_run)),
d AS (INSERT INTO dispatches (run_id, token, process_at, created_at)
	SELECT u.id, $18::varchar, $10::timestamptz, $10::timestamptz FROM e, unnest($13::varchar[]) AS u(id) RETURNING id, run_id)
SELECT CASE WHEN g.stale THEN ` + fmt.Sprint(int(AcceptStale)) + ` WHEN g.waited THEN ` + fmt.Sprint(int(AcceptWaitedOn)) +
	` WHEN NOT EXISTS (SELECT 1 FROM e) THEN ` + fmt.Sprint(int(AcceptDuplicate)) + ` ELSE ` + fmt.Sprint(int(AcceptWritten)) + ` END::bigint, ''::varchar FROM g
UNION ALL SELECT d.id, d.run_id FROM d`

// qCheckedAcceptKeyless is qCheckedAccept for an event without an idempotency key: nothing can
// conflict with its new id, so it is inserted without ON CONFLICT (which costs a speculative
// insertion and a confirmation record).
var qCheckedAcceptKeyless = strings.Replace(qCheckedAccept, " ON CONFLICT DO NOTHING", "", 1)

// CheckedAcceptStatement is the acceptance of ev in one statement on Postgres, without reading
// anything first: runs were made from a FlowSnapshot of generation gen (nil: nothing to check), and
// with checkWaits it writes nothing when runs wait for events of this type. Reading its result sets
// outcome and, when AcceptWritten, the outbox rows' ids. The runs are new runs (queued, one token)
// and ds their outbox rows, one each, as the engine's newRuns makes them.
func CheckedAcceptStatement(ev *Event, runs []Run, ds []Dispatch, gen *int64, checkWaits bool, outcome *AcceptOutcome) Statement {
	n := len(runs)
	ids, flows, versions, dry := make([]string, n), make([]string, n), make([]int64, n), make([]bool, n)
	status, token := RunQueued, "start"
	for i, r := range runs {
		ids[i], flows[i], versions[i], dry[i] = r.ID, r.FlowID, int64(r.FlowVersion), r.DryRun
		status, token = r.Status, r.Token
	}
	args := append(eventArgs(ev), gen, ids, flows, versions, dry, status, token, checkWaits)
	q := qCheckedAccept
	if ev.IdempotencyKey == nil {
		q = qCheckedAcceptKeyless
	}
	return Statement{SQL: q, Args: args, Read: func(rows Rows) error {
		*outcome = -1
		got := 0
		for rows.Next() {
			var id int64
			var runID string
			if err := rows.Scan(&id, &runID); err != nil {
				return err
			}
			if runID == "" {
				*outcome = AcceptOutcome(id)
				continue
			}
			for i := range ds {
				if ds[i].RunID == runID {
					ds[i].ID = uint(id)
					got++
				}
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if *outcome == AcceptWritten && got != len(ds) {
			return fmt.Errorf("outbox insert returned %d of %d ids", got, len(ds))
		}
		return nil
	}}
}

// RunStatement runs st in the transaction tx (the committer's fallback for a pipelined statement).
func (s *Store) RunStatement(tx *gorm.DB, st Statement) error { return s.run(tx, st) }
