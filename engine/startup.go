package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/opsflow/opsflow/engine/queue"
	"github.com/opsflow/opsflow/engine/secret"
	"github.com/opsflow/opsflow/engine/store"
)

// DefaultStartTimeout is how long a starting process keeps trying to reach Postgres and Redis:
// services started together (docker compose, a reboot) come up in any order.
const DefaultStartTimeout = 60 * time.Second

// retryStart calls connect until it succeeds, fails permanently or timeout has passed, with
// exponential backoff, logging every failed attempt.
func retryStart(log *slog.Logger, what string, timeout time.Duration, permanent func(error) bool, connect func() error) error {
	deadline := time.Now().Add(timeout)
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := connect()
		if err == nil {
			return nil
		}
		if permanent(err) {
			return err
		}
		if time.Now().Add(delay).After(deadline) {
			if attempt == 1 {
				return err
			}
			return fmt.Errorf("%w (gave up after %d attempts in %s)", err, attempt, timeout)
		}
		log.Warn("cannot reach "+what+" yet; retrying", "attempt", attempt, "retry_in", delay.String(), "error", err.Error())
		time.Sleep(delay)
		delay = min(2*delay, 5*time.Second)
	}
}

func never(error) bool { return false }

// openStore connects (retrying) and migrates, or with RequireMigrated only checks that nothing is pending.
func openStore(cfg Config) (*store.Store, error) {
	st, err := connectStore(cfg)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if cfg.RequireMigrated {
		pending, err := st.PendingMigrations(ctx)
		if err == nil && len(pending) > 0 {
			err = fmt.Errorf("the database lacks %d migration(s), from %d (%s): run opsflow migrate first (automatic migration is off: OPSFLOW_AUTO_MIGRATE=false)",
				len(pending), pending[0].Version, pending[0].Name)
		}
		if err != nil {
			st.Close()
			return nil, err
		}
	} else {
		applied, err := st.Migrate(ctx)
		if err != nil {
			st.Close()
			return nil, err
		}
		for _, m := range applied {
			cfg.Logger.Info("database migrated", "version", m.Version, "name", m.Name)
		}
	}
	if done, err := st.AppliedMigrations(ctx); err == nil && len(done) > 0 && done[len(done)-1] > store.Migrations[len(store.Migrations)-1].Version {
		cfg.Logger.Warn("the database schema is newer than this opsflow", "database_version", done[len(done)-1],
			"known_version", store.Migrations[len(store.Migrations)-1].Version)
	}
	return st, nil
}

// openQueue connects to Redis (retrying) or, with no Redis option, starts the embedded queue.
func openQueue(cfg Config, redis asynq.RedisConnOpt) (*queue.Queue, error) {
	var q *queue.Queue
	err := retryStart(cfg.Logger, "Redis", cfg.StartTimeout, never, func() (err error) {
		q, err = queue.Open(queue.Config{Redis: redis, Name: cfg.QueueName})
		return err
	})
	return q, err
}

// Migrate applies the pending migrations to the configured database and returns them: the
// explicit upgrade step (opsflow migrate). It retries the connection like Open.
func Migrate(cfg Config) ([]store.Migration, error) {
	cfg = withStartDefaults(cfg)
	if err := checkDatabaseURL(cfg.DatabaseURL); err != nil {
		return nil, err
	}
	st, err := connectStore(cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Migrate(context.Background())
}

// connectStore connects to the database, retrying while it does not answer.
func connectStore(cfg Config) (*store.Store, error) {
	databaseURL, err := store.WithStatementTimeout(cfg.DatabaseURL, cfg.DBStatementTimeout)
	if err != nil {
		return nil, err
	}
	var st *store.Store
	err = retryStart(cfg.Logger, "the database", cfg.StartTimeout, store.IsPermanentConnectError, func() (err error) {
		st, err = store.Connect(databaseURL, cfg.DataDir, cfg.DBPoolSize)
		return err
	})
	return st, err
}

func checkDatabaseURL(url string) error {
	if url != "" && !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return errors.New("DATABASE_URL must be a postgres:// URL")
	}
	return nil
}

func withStartDefaults(cfg Config) Config {
	if cfg.DataDir == "" {
		cfg.DataDir = "./data"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	return cfg
}

// keyCheckSetting holds the key check value of the credentials' key.
const keyCheckSetting = "key_check"

// ErrWrongKey is a secret key other than the one the stored credentials were encrypted with.
var ErrWrongKey = errors.New("not the key this database's credentials were encrypted with (key check failed)")

// wrongKey says which key was wrong and what to do.
func wrongKey(cfg Config) error {
	if cfg.SecretKey != "" {
		return fmt.Errorf("OPSFLOW_SECRET_KEY is %w; start with the original key", ErrWrongKey)
	}
	return fmt.Errorf("the key in %s is %w; restore the original file or set OPSFLOW_SECRET_KEY to the original key",
		filepath.Join(cfg.DataDir, "secret.key"), ErrWrongKey)
}

// checkKey refuses a key other than the database's. The first start stores a check value; a
// database that has credentials but no check value yet (made before there were check values)
// is checked by decrypting one credential first.
func checkKey(ctx context.Context, st *store.Store, box *secret.Box) error {
	stored, err := st.GetSetting(ctx, keyCheckSetting)
	if err == nil {
		check, decErr := base64.StdEncoding.DecodeString(stored)
		if decErr != nil || !box.Verify(check) {
			return ErrWrongKey
		}
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reading the key check value: %w", err)
	}
	var c store.Credential
	switch err := st.DB.WithContext(ctx).Order("created_at").Take(&c).Error; {
	case err == nil:
		if _, err := box.Open(c.Ciphertext, []byte(c.ID)); err != nil {
			return ErrWrongKey
		}
	case !errors.Is(store.NotFound(err), store.ErrNotFound):
		return fmt.Errorf("reading a credential to check the key: %w", err)
	}
	if err := st.AddSetting(ctx, keyCheckSetting, base64.StdEncoding.EncodeToString(box.CheckValue())); err != nil {
		if store.IsUniqueViolation(err) {
			return checkKey(ctx, st, box) // another process stored one first: it must match too
		}
		return fmt.Errorf("storing the key check value: %w", err)
	}
	return nil
}
