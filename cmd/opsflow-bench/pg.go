package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// pgAdmin is a connection to the maintenance database given by -database-url. The bench's own
// queries run there, so they never count in the commits of the databases it measures.
type pgAdmin struct {
	db   *gorm.DB
	base string
}

func openPG(url string) (*pgAdmin, error) {
	db, err := gorm.Open(postgres.Open(url), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", url, err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(2)
	if err := sqlDB.Ping(); err != nil {
		return nil, fmt.Errorf("postgres %s: %w", url, err)
	}
	return &pgAdmin{db: db, base: url}, nil
}

func (p *pgAdmin) close() {
	if sqlDB, err := p.db.DB(); err == nil {
		sqlDB.Close()
	}
}

// createDB creates a fresh database and returns its name and URL.
func (p *pgAdmin) createDB(prefix string) (string, string, error) {
	name := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	// CREATE DATABASE copies the template through the WAL (megabytes, with PG15's default WAL_LOG
	// strategy). Flush this backend's WAL statistics now, on the same connection, so that they
	// cannot land up to 10 s late in the first phase's pg_stat_wal window (best effort: PG15+).
	err := p.db.Connection(func(tx *gorm.DB) error {
		if err := tx.Exec("CREATE DATABASE " + name).Error; err != nil {
			return err
		}
		tx.Exec("SELECT pg_stat_force_next_flush()")
		return nil
	})
	if err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, withDatabase(p.base, name), nil
}

func (p *pgAdmin) dropDB(name string) error {
	return p.db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error
}

// withDatabase replaces the database name in a postgres:// URL.
func withDatabase(url, name string) string {
	scheme := strings.Index(url, "://")
	if scheme < 0 {
		return url
	}
	i := strings.Index(url[scheme+3:], "/")
	if i < 0 {
		return url + "/" + name
	}
	i += scheme + 3
	rest := ""
	if q := strings.Index(url[i:], "?"); q >= 0 {
		rest = url[i+q:]
	}
	return url[:i+1] + name + rest
}

// commits is the database's committed transaction count. Backends report statistics late, so
// callers read it after a pause (-settle).
func (p *pgAdmin) commits(ctx context.Context, name string) (int64, error) {
	var n int64
	err := p.db.WithContext(ctx).Raw("SELECT xact_commit FROM pg_stat_database WHERE datname = ?", name).Scan(&n).Error
	return n, err
}

// walUsage is the WAL written so far by the whole cluster: records and bytes.
type walUsage struct{ records, bytes int64 }

// wal reads pg_stat_wal (PG14+). It is cluster-wide: it counts whatever else writes on the server
// meanwhile (autovacuum, checkpoints, other clients); the bench measures one pipeline at a time and
// its own queries during a phase only read. Backends flush their WAL counters with their other
// statistics, not at commit, so callers read it after the same pause as commits.
func (p *pgAdmin) wal(ctx context.Context) (walUsage, error) {
	var w walUsage
	err := p.db.WithContext(ctx).Raw("SELECT wal_records, wal_bytes::bigint FROM pg_stat_wal").Row().Scan(&w.records, &w.bytes)
	return w, err
}

// settleStats is the -quick pause before reading statistics. Busy backends flush theirs at most once
// a second; an idle one that flushed less than a second ago waits 10 s (PGSTAT_IDLE_INTERVAL), so
// -quick undercounts commits and WAL: enough to see that they are counted, not to compare.
const settleStats = 1500 * time.Millisecond

// backendCPU follows the CPU time of one database's backend processes. Backends come and go
// (pools open and close sessions), so it samples their /proc entries and keeps the last value
// of a backend that exited; at most one sampling interval of an exiting backend is missed.
type backendCPU struct {
	mu    sync.Mutex
	ticks map[int]int64
	stop  chan struct{}
	done  chan struct{}
}

func (p *pgAdmin) followBackends(name string, every time.Duration) *backendCPU {
	b := &backendCPU{ticks: map[int]int64{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			b.sample(p, name)
			select {
			case <-b.stop:
				return
			case <-t.C:
			}
		}
	}()
	return b
}

func (b *backendCPU) sample(p *pgAdmin, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var pids []int
	if err := p.db.WithContext(ctx).Raw("SELECT pid FROM pg_stat_activity WHERE datname = ?", name).Scan(&pids).Error; err != nil {
		return
	}
	for _, pid := range pids {
		if t, err := cpuTicks(pid); err == nil {
			b.mu.Lock()
			if t > b.ticks[pid] {
				b.ticks[pid] = t
			}
			b.mu.Unlock()
		}
	}
}

// total is the CPU time of every backend seen so far, in clock ticks.
func (b *backendCPU) total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sum int64
	for _, t := range b.ticks {
		sum += t
	}
	return sum
}

func (b *backendCPU) close() {
	close(b.stop)
	<-b.done
}
