package store

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// Store is the database.
type Store struct {
	DB *gorm.DB
	// Embedded is true for the SQLite default.
	Embedded bool
}

// Connect connects to Postgres when databaseURL is set, else to SQLite in dataDir, without migrating.
// A Postgres that does not answer is an error (and no open connections are left behind). poolSize
// bounds the Postgres connections (0 means 20).
func Connect(databaseURL, dataDir string, poolSize int) (*Store, error) {
	if poolSize <= 0 {
		poolSize = 20
	}
	// Single statements need no transaction of their own (gorm would wrap each in one: two more
	// round trips and a commit). gorm's PrepareStmt stays off: pgx already prepares and caches
	// statements per connection, and gorm's cache prepares outside a transaction under a lock,
	// which deadlocks against a transaction holding SQLite's only connection.
	cfg := &gorm.Config{Logger: logger.Discard, NowFunc: func() time.Time { return time.Now().UTC() }, DisableAutomaticPing: true,
		SkipDefaultTransaction: true}
	embedded := databaseURL == ""
	if embedded {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory %s: %w", dataDir, err)
		}
		path := filepath.Join(dataDir, "opsflow.db")
		db, err := gorm.Open(sqlite.Open(path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"), cfg)
		if err != nil {
			return nil, fmt.Errorf("cannot open database: %w", err)
		}
		sqlDB, _ := db.DB()
		// SQLite allows one writer; one connection avoids "database is locked" under load.
		sqlDB.SetMaxOpenConns(1)
		if err := sqlDB.Ping(); err != nil {
			sqlDB.Close()
			return nil, fmt.Errorf("cannot open database %s: %w", path, err)
		}
		return &Store{DB: db, Embedded: true}, nil
	}
	db, err := gorm.Open(postgres.Open(databaseURL), cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot open database: %w", err)
	}
	sqlDB, _ := db.DB()
	// Idle connections are kept: opening one per burst costs more than the run it serves.
	sqlDB.SetMaxOpenConns(poolSize)
	sqlDB.SetMaxIdleConns(poolSize)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqlDB.Ping(); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("cannot open database: %w", err)
	}
	return &Store{DB: db}, nil
}

// WithStatementTimeout adds Postgres's statement_timeout to a postgres:// URL as a connection
// parameter (pgx sends unknown URL parameters to the server at connect), so it holds on every
// pooled connection. Zero, or SQLite (no URL), leaves the URL as it is.
func WithStatementTimeout(databaseURL string, d time.Duration) (string, error) {
	if d <= 0 || databaseURL == "" {
		return databaseURL, nil
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", errors.New("DATABASE_URL is not a valid URL") // it may hold a password: not repeated
	}
	q := u.Query()
	q.Set("statement_timeout", strconv.FormatInt(max(d.Milliseconds(), 1), 10))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// IsPermanentConnectError reports whether a failed Connect will fail the same way however often it
// is retried: Postgres refused the credentials or has no such database.
func IsPermanentConnectError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "28") || pgErr.Code == "3D000")
}

// Close closes the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// NewID returns a time-ordered unique id (UUIDv7), so ordering by id is ordering by creation.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// IsUniqueViolation reports whether err is a unique-constraint failure on either database.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "duplicate key value")
}

// NotFound maps gorm's record-not-found to ErrNotFound.
func NotFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// OpenRaw connects to Postgres without migrating (for administrative statements in tests).
func OpenRaw(databaseURL string) (*gorm.DB, error) {
	return gorm.Open(postgres.Open(databaseURL), &gorm.Config{Logger: logger.Discard})
}

// ByRef selects a record by id or by name: flows and templates may name credentials, teams and
// subflows either way, and names keep them portable between installations.
func ByRef(ref string) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB { return db.Where("id = ? OR name = ?", ref, ref) }
}
