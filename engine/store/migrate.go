package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// Migration is one versioned change of the schema, applied once, in its own transaction, and
// recorded in the schema_migrations table.
type Migration struct {
	Version int
	Name    string
	Up      func(tx *gorm.DB) error
}

// Migrations is the schema's history, oldest first. Never edit or reorder an entry that has been
// released; to change the schema, change the models and append an entry with the next version:
//
//	{Version: 3, Name: "runs: lease token", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&Run{}, &Step{}) }},
//
// AutoMigrate only adds what is missing (tables, columns, indexes), so on a new database, where
// version 1 already created the current models, the later AutoMigrate entries change nothing.
// Changes AutoMigrate cannot make (renames, backfills, dropping) are explicit SQL for both
// dialects: switch on tx.Dialector.Name() ("postgres" or "sqlite").
var Migrations = []Migration{
	{Version: 1, Name: "initial schema", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(Models...) }},
	{Version: 2, Name: "settings (key check value)", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&Setting{}) }},
	{Version: 3, Name: "runs: lease that fences the writes of an execution", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&Run{}) }},
	{Version: 4, Name: "events: raw webhook bodies as bytes", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&Event{}) }},
	{Version: 5, Name: "users, sessions, API keys, audit log", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(AuthModels...) }},
	{Version: 6, Name: "events: traceparent of the accepting request", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&Event{}) }},
	{Version: 7, Name: "runs: HOT updates (indexes on neither updated_at nor status, fillfactor)", Up: hotRuns},
	{Version: 8, Name: "replays of recorded events", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(ReplayModels...) }},
	{Version: 10, Name: "schedule marks (catch-up after downtime)", Up: func(tx *gorm.DB) error { return tx.AutoMigrate(&ScheduleMark{}) }},
	{Version: 11, Name: "flows: generation bumped by every change of what events start", Up: flowGeneration},
	{Version: 12, Name: "steps keyed by run and node; events' flow and idempotency-key indexes only where set", Up: fewerIndexEntries},
}

// fewerIndexEntries drops index entries every run wrote and nothing reads. A step's surrogate id
// (Postgres: its own index, one entry per step) goes: steps are found by run and node, which
// becomes the key, and ordered by when they started (see the executor's startTime). On SQLite an
// integer id is the table's rowid and costs no index, so existing tables keep it. The events'
// flow_id and idempotency_key indexes leave out the rows without one (API events, and events
// without a key), which are most events: their lookups are always for a value.
func fewerIndexEntries(tx *gorm.DB) error {
	qs := []string{
		"DROP INDEX IF EXISTS idx_events_flow_id",
		"CREATE INDEX idx_events_flow_id ON events (flow_id) WHERE flow_id IS NOT NULL",
		"DROP INDEX IF EXISTS idx_events_idempotency_key",
		"CREATE UNIQUE INDEX idx_events_idempotency_key ON events (idempotency_key) WHERE idempotency_key IS NOT NULL",
	}
	if tx.Dialector.Name() == "postgres" && tx.Migrator().HasColumn("steps", "id") {
		qs = append(qs, "ALTER TABLE steps DROP CONSTRAINT steps_pkey", "ALTER TABLE steps DROP COLUMN id",
			"ALTER TABLE steps ADD CONSTRAINT steps_pkey PRIMARY KEY USING INDEX run_node")
	}
	for _, q := range qs {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// flowGeneration counts the changes of which flows events start (Postgres only), so an API process
// can keep those flows in memory and accept an event in one statement that checks the count is
// still the one its copy was read at (see CheckedAcceptStatement). A trigger bumps it, so no write
// to flows can be missed; columns that do not decide what an event starts (names, drafts, the
// rejected-deliveries counter) do not bump it. The row is updated in the transaction that changes
// the flow, so the new count is seen exactly when the change is.
func flowGeneration(tx *gorm.DB) error {
	if tx.Dialector.Name() != "postgres" {
		return nil
	}
	for _, q := range []string{
		"CREATE TABLE IF NOT EXISTS flow_generation (id integer PRIMARY KEY CHECK (id = 1), n bigint NOT NULL)",
		"INSERT INTO flow_generation (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
		`CREATE OR REPLACE FUNCTION opsflow_flows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE flow_generation SET n = n + 1 WHERE id = 1;
	RETURN NULL;
END $$`,
		"DROP TRIGGER IF EXISTS flows_changed ON flows",
		"DROP TRIGGER IF EXISTS flows_truncated ON flows",
		`CREATE TRIGGER flows_changed AFTER INSERT OR DELETE OR UPDATE OF enabled, published_version, trigger_type, event_type
	ON flows FOR EACH STATEMENT EXECUTE FUNCTION opsflow_flows_changed()`,
		"CREATE TRIGGER flows_truncated AFTER TRUNCATE ON flows FOR EACH STATEMENT EXECUTE FUNCTION opsflow_flows_changed()",
	} {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// hotRuns lets the claim and the checkpoints of a run update its row in place (heap-only tuples,
// no index writes): an update is HOT when it changes no indexed column and the row's page has room.
// So runs.updated_at (set by every write) and runs.status (set by the claim) lose their indexes:
// unfinished runs are found by finished_at IS NULL instead (set once, when the run finishes, which
// is then its one update that writes indexes), and nothing searches by updated_at alone. Runs and
// steps (upserted again when a step finishes) keep free room in their pages (Postgres only).
func hotRuns(tx *gorm.DB) error {
	for _, q := range []string{"DROP INDEX IF EXISTS idx_runs_updated_at", "DROP INDEX IF EXISTS idx_runs_status",
		"CREATE INDEX IF NOT EXISTS idx_runs_finished_at ON runs (finished_at)"} {
		if err := tx.Exec(q).Error; err != nil {
			return err
		}
	}
	if tx.Dialector.Name() != "postgres" {
		return nil
	}
	if err := tx.Exec("ALTER TABLE runs SET (fillfactor = 70)").Error; err != nil {
		return err
	}
	return tx.Exec("ALTER TABLE steps SET (fillfactor = 80)").Error
}

// migrationLock is the Postgres advisory lock key that serialises migrations (advisory locks are
// per database, so installations on one server do not wait for each other).
const migrationLock = 0x6f7073666c6f77 // "opsflow"

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version integer PRIMARY KEY,
	name varchar(200) NOT NULL,
	applied_at timestamp NOT NULL
)`

// Migrate applies the pending migrations and returns them. Processes starting together on one
// database take turns: on Postgres they wait for an advisory lock; on SQLite every migration
// transaction takes the write lock (BEGIN IMMEDIATE) and checks its version again inside it.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	unlock, err := s.lockMigrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("database migration: waiting for the migration lock: %w", err)
	}
	defer unlock()
	db := s.DB.WithContext(ctx)
	if err := db.Exec(createSchemaMigrations).Error; err != nil {
		return nil, fmt.Errorf("database migration: %w", err)
	}
	done, err := s.AppliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range Migrations {
		if slices.Contains(done, m.Version) {
			continue
		}
		ran := false
		err := db.Transaction(func(tx *gorm.DB) error {
			var n int64
			if err := tx.Table("schema_migrations").Where("version = ?", m.Version).Count(&n).Error; err != nil || n > 0 {
				return err // another process applied it meanwhile (SQLite)
			}
			if err := m.Up(tx); err != nil {
				return err
			}
			ran = true
			return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.Version, m.Name, time.Now().UTC()).Error
		})
		if err != nil {
			return applied, fmt.Errorf("database migration %d (%s) failed: %w", m.Version, m.Name, err)
		}
		if ran {
			applied = append(applied, m)
		}
	}
	return applied, nil
}

// AppliedMigrations lists the versions recorded in schema_migrations, ascending; none on a new database.
func (s *Store) AppliedMigrations(ctx context.Context) ([]int, error) {
	db := s.DB.WithContext(ctx)
	if !db.Migrator().HasTable("schema_migrations") {
		return nil, nil
	}
	var versions []int
	if err := db.Table("schema_migrations").Order("version").Pluck("version", &versions).Error; err != nil {
		return nil, fmt.Errorf("reading schema_migrations: %w", err)
	}
	return versions, nil
}

// PendingMigrations lists the migrations this version of opsflow has that the database lacks.
func (s *Store) PendingMigrations(ctx context.Context) ([]Migration, error) {
	done, err := s.AppliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	var pending []Migration
	for _, m := range Migrations {
		if !slices.Contains(done, m.Version) {
			pending = append(pending, m)
		}
	}
	return pending, nil
}

// lockMigrations takes the Postgres advisory lock on a connection of its own, held until unlock
// (or until the process dies, which closes the connection and so releases it).
func (s *Store) lockMigrations(ctx context.Context) (unlock func(), err error) {
	if s.Embedded {
		return func() {}, nil
	}
	sqlDB, err := s.DB.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLock)); err != nil {
		conn.Close()
		return nil, err
	}
	return func() { releaseLock(conn) }, nil
}

func releaseLock(conn *sql.Conn) {
	if _, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", int64(migrationLock)); err != nil {
		// Do not hand a connection that may still hold the lock back to the pool.
		conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	conn.Close()
}
