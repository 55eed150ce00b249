package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
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

// Open connects to Postgres when databaseURL is set, else to SQLite in dataDir, and migrates.
func Open(databaseURL, dataDir string) (*Store, error) {
	cfg := &gorm.Config{Logger: logger.Discard, NowFunc: func() time.Time { return time.Now().UTC() }}
	var (
		db  *gorm.DB
		err error
	)
	embedded := databaseURL == ""
	if embedded {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory %s: %w", dataDir, err)
		}
		path := filepath.Join(dataDir, "opsflow.db")
		db, err = gorm.Open(sqlite.Open(path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"), cfg)
		if err == nil {
			sqlDB, _ := db.DB()
			// SQLite allows one writer; one connection avoids "database is locked" under load.
			sqlDB.SetMaxOpenConns(1)
		}
	} else {
		db, err = gorm.Open(postgres.Open(databaseURL), cfg)
		if err == nil {
			sqlDB, _ := db.DB()
			sqlDB.SetMaxOpenConns(20)
			sqlDB.SetMaxIdleConns(10)
			err = sqlDB.Ping()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open database: %w", err)
	}
	if err := db.AutoMigrate(append(append([]any{}, Models...), AuthModels...)...); err != nil {
		return nil, fmt.Errorf("database migration failed: %w", err)
	}
	return &Store{DB: db, Embedded: embedded}, nil
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
